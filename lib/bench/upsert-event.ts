/**
 * The API Gateway event and Lambda context the benchmarks invoke the upsert function with: an upsert of {name, n} into
 * the account model, the authorizer context already filled in (a warm authorizer). Each i names one of 1,000 records
 * and sets n to i, so every call changes its record and none is an "unchanged" no-op. The event is built by
 * `authorizedPostEvent`, which the batch-deadline unit test uses for the batch route too.
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
  return {
    resource: options.resource,
    path: options.resource.replace('{model}', options.model),
    httpMethod: 'POST',
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { model: options.model },
    stageVariables: null,
    body: Buffer.from(JSON.stringify(options.json)).toString('base64'),
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
