/**
 * API Gateway's limit on a protected method's ARN: "the maximum length is 1600 bytes. Path parameter values, whose size
 * are determined at runtime, can cause the ARN length to exceed the limit. When this happens, the API client receives a
 * 414 Request URI too long response" (Output from an API Gateway Lambda authorizer, API Gateway developer guide). A
 * long id in a path can pass it, so the local gateway refuses such a request as a stage would, rather than let a client
 * meet the 414 first on AWS. The ARN is measured as a stage's would be, with the longest region name and a real
 * account and API id, in the `aws` partition, with the local stage name (`local`, as long as this stack's longest,
 * `stage`; a stage named longer is refused a little sooner on AWS), and with the path as sent (percent-encoded): which
 * form AWS counts is not documented, and the longer one does not let through locally what a stage refuses.
 */
export const maxMethodArnBytes = 1600;

/** The ARN's part before the path on a stage: arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<method>. */
const stagePrefix = (stage: string, method: string) => `arn:aws:execute-api:ap-southeast-2:123456789012:abcdefghij/${stage}/${method}`;

/** Whether a protected request's method ARN would pass API Gateway's 1,600 bytes on a stage. */
export function methodArnTooLong(stage: string, method: string, rawPath: string): boolean {
  return Buffer.byteLength(stagePrefix(stage, method)) + Buffer.byteLength(rawPath) > maxMethodArnBytes;
}
