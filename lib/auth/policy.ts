/**
 * The authorizer's policy covers the whole API (every stage method and path), never just the method it was asked
 * about: API Gateway caches the policy per key and reuses it for every route, so a per-method ARN would deny the
 * next route from the cache. Scopes are enforced per route by the handlers.
 */
import type { APIGatewayAuthorizerResult } from 'aws-lambda';

/** `arn:aws:execute-api:region:account:api/stage/METHOD/path` to `arn:aws:execute-api:region:account:api/stage/*`. */
export function wholeApiArn(methodArn: string): string {
  // The API id ends the colon-separated prefix; the stage is the first path element.
  const [apiPrefix, stage] = methodArn.split('/');
  if (!apiPrefix?.startsWith('arn:') || !stage) throw new Error(`Unexpected method ARN: ${methodArn}`);
  return `${apiPrefix}/${stage}/*`;
}

export function allowPolicy(principalId: string, methodArn: string, context: Record<string, string>): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: wholeApiArn(methodArn) }],
    },
    context,
  };
}
