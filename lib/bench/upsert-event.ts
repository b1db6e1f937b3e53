/**
 * The API Gateway event and Lambda context the benchmarks invoke the upsert function with: an upsert of {name, n} into
 * the account model, the authorizer context already filled in (a warm authorizer). Each i names one of 1,000 records
 * and sets n to i, so every call changes its record and none is an "unchanged" no-op. Its headers are those of a
 * client's request through API Gateway, in both header maps, as production's are. The event is built by
 * `authorizedPostEvent`, which the idempotency suite uses to invoke a handler directly.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

export const benchContext = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 20_000 } as unknown as Context;

/** A JSON POST to a records route as API Gateway hands it to the function after the authorizer allowed it. */
export function authorizedPostEvent(options: {
  readonly resource: string;
  readonly model: string;
  readonly json: unknown;
  readonly requestId: string;
  readonly workspace: string;
  readonly scopes: string;
}): APIGatewayProxyEvent {
  const body = JSON.stringify(options.json);
  // The headers a client's request arrives with through API Gateway (REST, edge-optimized): what the header reading
  // (lib/http/request-headers.ts) and the identity step walk on every request.
  const headers: Record<string, string> = {
    Accept: '*/*',
    Authorization: 'Token gth_bench0000000000000000000000000000000000',
    'CloudFront-Forwarded-Proto': 'https',
    'CloudFront-Viewer-Country': 'DE',
    'Content-Length': String(Buffer.byteLength(body)),
    'Content-Type': 'application/json',
    Host: 'abc123.execute-api.eu-west-1.amazonaws.com',
    'User-Agent': 'curl/8.5.0',
    Via: '2.0 0123456789abcdef.cloudfront.net (CloudFront)',
    'X-Amz-Cf-Id': 'bench-cf-id',
    'X-Amzn-Trace-Id': 'Root=1-00000000-000000000000000000000000',
    'X-Forwarded-For': '203.0.113.7, 130.176.0.1',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  };
  return {
    resource: options.resource,
    path: options.resource.replace('{model}', options.model),
    httpMethod: 'POST',
    headers,
    // As API Gateway sends them: every header also as a list, so the header steps do what they do in production.
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { model: options.model },
    stageVariables: null,
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
    requestContext: { requestId: options.requestId, stage: 'local', authorizer: { workspace: options.workspace, scopes: options.scopes } } as never,
  };
}

export function upsertEvent(i: number): APIGatewayProxyEvent {
  return authorizedPostEvent({
    resource: '/models/{model}/records',
    model: 'account',
    json: { name: `inproc-${i % 1000}`, n: i },
    requestId: `b${i}`,
    workspace: 'dev',
    scopes: 'records:read,records:write,models:write',
  });
}
