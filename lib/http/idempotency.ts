/**
 * `Idempotency-Key` on every write route, with Powertools for AWS Lambda's idempotency utility: the same key and the
 * same request (method, path, body) within 24 h replays the first response without a second write; the same key with
 * another request is a 422; a second request while the first is in flight is a 409. Keys are scoped to the workspace
 * (two workspaces may use the same key) and expire through DynamoDB TTL on the idempotency table.
 *
 * The wrapper fixes one thing in Powertools' middy middleware: its onError deletes the key's record whatever failed,
 * so a request refused as "in progress" or "different payload" would delete the first request's record and let a
 * third request run again. Here, a request that did not claim the key never deletes it.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { requireEnv } from '../config.js';
import { sharedDynamoDbClient } from '../store/dynamodb-client.js';
import { HttpError } from './http-error.js';
import { markReplayed } from './observability.js';
import { requestState } from './request-state.js';

export const idempotencyHeader = 'idempotency-key';
export const idempotencyWindowSeconds = 24 * 60 * 60;
const keyPattern = /^[\x21-\x7e]{1,255}$/;
/** Set in the request's state (lib/http/request-state.ts) once the request has claimed its key. */
const claimedKey = 'gather.idempotency.claimed';

type Middleware = MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>;

let persistence: DynamoDBPersistenceLayer | undefined;

/** Whether an answer, or any item of a batch answer, says "retry": such an answer is not remembered. */
export function hasRetryableParts(response: APIGatewayProxyResult | null | undefined): boolean {
  if (!response) return false;
  if (response.statusCode >= 500 || response.statusCode === 429) return true;
  if (!response.body || !response.body.includes('"results"')) return false;
  try {
    const results = (JSON.parse(response.body) as { results?: { status?: number }[] }).results;
    return Array.isArray(results) && results.some((item) => (item.status ?? 0) >= 500 || item.status === 429);
  } catch {
    return false;
  }
}

export function idempotencyMiddleware(): Middleware {
  const config = new IdempotencyConfig({
    // No header, no idempotency. The workspace is part of the key, so keys of different workspaces never meet.
    eventKeyJmesPath: `headers."${idempotencyHeader}" && [requestContext.authorizer.workspace, headers."${idempotencyHeader}"]`,
    // The conditional headers are part of the request: the same key sent with another If-Match is another request.
    payloadValidationJmesPath: '[httpMethod, path, body, headers."if-match", headers."if-none-match"]',
    expiresAfterSeconds: idempotencyWindowSeconds,
    throwOnNoIdempotencyKey: false,
  });
  let inner: Middleware | undefined;
  const powertools = () => {
    persistence ??= new DynamoDBPersistenceLayer({ tableName: requireEnv('IDEMPOTENCY_TABLE_NAME'), awsSdkV3Client: sharedDynamoDbClient() });
    inner ??= makeHandlerIdempotent({ persistenceStore: persistence, config }) as Middleware;
    return inner;
  };
  /**
   * Claims the key, or answers the replay, through Powertools: it returns the stored answer only for a replay. A
   * request that throws here (the key in progress elsewhere, or reused for another request) owns nothing to clean up,
   * so only a successful claim is marked.
   */
  const claim = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    const replay = await powertools().before!(request);
    requestState(request)[claimedKey] = true;
    if (replay !== undefined) markReplayed(request);
    return replay;
  };
  // Only a request that claimed its key may complete or release the key's record; every other one leaves it alone.
  const claimed = (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) =>
    requestState(request)[claimedKey] === true;
  return {
    // Synchronous when there is no key, so middy has no promise to wait for.
    before: (request) => {
      const key = request.event.headers?.[idempotencyHeader];
      if (request.event.httpMethod === 'GET' || key === undefined) return undefined;
      if (!keyPattern.test(key)) {
        throw new HttpError(400, 'malformed_header', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [
          { field: 'Idempotency-Key', issue: 'must be 1 to 255 visible ASCII characters' },
        ]);
      }
      return claim(request);
    },
    after: (request) => {
      if (!claimed(request)) return undefined;
      // An answer that asks for a retry must not be replayed: a batch whose items were throttled (503s inside its
      // 200) releases the key like a failure, so the retry with the same key writes them.
      return hasRetryableParts(request.response) ? powertools().onError!(request) : powertools().after!(request);
    },
    onError: (request) => (claimed(request) ? powertools().onError!(request) : undefined),
  };
}
