/**
 * The API Gateway event and Lambda context the benchmarks invoke the upsert function with: an upsert of {name, n} into
 * the account model, the authorizer context already filled in (a warm authorizer). Each i names one of 1,000 records
 * and sets n to i, so every call changes its record and none is an "unchanged" no-op.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

export const benchContext = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 20_000 } as unknown as Context;

export function upsertEvent(i: number): APIGatewayProxyEvent {
  return {
    resource: '/models/{model}/records',
    path: '/models/account/records',
    httpMethod: 'POST',
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { model: 'account' },
    stageVariables: null,
    body: Buffer.from(JSON.stringify({ name: `inproc-${i % 1000}`, n: i })).toString('base64'),
    isBase64Encoded: true,
    requestContext: { requestId: `b${i}`, stage: 'local', authorizer: { workspace: 'dev', scopes: 'records:read,records:write,models:write' } } as never,
  };
}
