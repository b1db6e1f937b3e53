/**
 * `Idempotency-Key` on every write route, with Powertools for AWS Lambda's idempotency utility: the same key and the
 * same request (method, path, query string, body, the body's Content-Type and Content-Encoding, conditional headers)
 * within 24 h replays the first response without
 * a second write; the same key with another request is a 422; a second request while the first is in flight is a 409.
 * A failed request is not remembered, except a DELETE's 404 (nothing to delete), which is its outcome as a 204 is.
 * Keys are scoped to the workspace (two workspaces may use the same key) and expire through DynamoDB TTL on the
 * idempotency table.
 *
 * The wrapper fixes what Powertools' middy middleware gets wrong for an HTTP API:
 * - its onError deletes the key's record whatever failed, so a request refused as "in progress" or "different payload"
 *   would delete the first request's record and let a third request run again. Here, a request that did not claim the
 *   key never deletes it;
 * - it stores the whole answer in one DynamoDB item (400 KB at most), and when that save fails the request fails,
 *   although its write was applied: a 503 that says "nothing written" after a write, and every retry with the key
 *   writes and fails again. Here a large answer's body is stored gzipped, and an answer that cannot be remembered (too
 *   large even gzipped, or the idempotency table failing) is still given to the client; its key is released, so a
 *   retry runs the request again, which every write route of this API makes safe (upserts merge to the same record, a
 *   second delete is a 404 that clients treat as done).
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { IdempotencyAlreadyInProgressError, IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { GetItemCommand, UpdateItemCommand, type AttributeValue, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { requireEnv } from '../config.js';
import { sharedDynamoDbClient } from '../store/dynamodb-client.js';
import { ModelNotFoundError, RecordNotFoundError } from '../records/errors.js';
import { isConditionFailure, withErrorMapping } from '../store/map-dynamodb-error.js';
import { isRetryableItem } from './batch-resend.js';
import { errorResponse, mapRequestError } from './error-envelope.js';
import { malformedHeader } from './http-error.js';
import { logger, markReplayed } from './observability.js';
import { requestState } from './request-state.js';

export const idempotencyHeader = 'idempotency-key';
export const idempotencyWindowSeconds = 24 * 60 * 60;
const keyPattern = /^[\x21-\x7e]{1,255}$/;
/** Set in the request's state (lib/http/request-state.ts) once the request has claimed its key. */
const claimedKey = 'gather.idempotency.claimed';

type Middleware = MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>;

let persistence: DynamoDBPersistenceLayer | undefined;

/** Whether a whole answer says "retry" (a 5xx or a 429): such an answer is not remembered. */
export function isRetryableAnswer(response: APIGatewayProxyResult | null | undefined): boolean {
  return response !== null && response !== undefined && (response.statusCode >= 500 || response.statusCode === 429);
}

/** Whether a batch's 200 holds items that say "retry" (429 or 503): the answer is kept as a partial one. */
export function hasRetryableItems(response: APIGatewayProxyResult | null | undefined): boolean {
  if (!response || response.statusCode !== 200 || !response.body || !response.body.includes('"results"')) return false;
  try {
    const results = (JSON.parse(response.body) as { results?: { status?: number }[] }).results;
    return Array.isArray(results) && results.some((item) => isRetryableItem({ status: item.status ?? 0 }));
  } catch {
    return false;
  }
}

/** Whether a DELETE failed for want of anything to delete: the record, or the model, is not there. */
function isNothingToDelete(request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>): boolean {
  return request.event.httpMethod === 'DELETE' && (request.error instanceof RecordNotFoundError || request.error instanceof ModelNotFoundError);
}

/**
 * The partial batch answer a resend with the same key continues from (its items that were done keep their answers;
 * lib/http/batch-resend.ts), by the resend's event; set by the Idempotency-Key step just before the handler runs.
 */
const partialAnswers = new WeakMap<APIGatewayProxyEvent, APIGatewayProxyResult>();

export function earlierPartialAnswer(event: APIGatewayProxyEvent): APIGatewayProxyResult | undefined {
  return partialAnswers.get(event);
}

/** Bodies larger than this are stored gzipped (base64): a batch's per-item results compress many times over. */
const compressAboveBytes = 32 * 1024;
/**
 * The largest stored body: the idempotency item also holds its key hash, status, expiry and payload hash, and DynamoDB
 * refuses an item over 400 KB.
 */
export const maxStoredBodyBytes = 300 * 1024;
/** Marks a stored answer whose body is gzipped and base64-encoded. Never sent to a client: the replay unpacks it. */
const gzippedBodyMark = 'gatherStoredBody';
/**
 * Marks a stored batch answer with items to retry: a resend continues it instead of replaying it. Its value is random
 * per stored answer, so a resend takes over exactly the answer it read (one conditional write), never a later one.
 */
const partialMark = 'gatherPartialBatch';
/**
 * The token of the resend that took a partial answer over, in the request's state and on the record; a request with one
 * continues a partial answer, and its failures give that answer back.
 */
const continueTokenKey = 'gather.idempotency.continueToken';
const continueTokenAttribute = 'gather_continue_token';
/** Until when (epoch ms) the resend that took a partial answer over may run; past it, the next resend takes it up. */
const continueUntilAttribute = 'gather_continue_until';

type StoredAnswer = APIGatewayProxyResult & { [gzippedBodyMark]?: 'gzip-base64'; [partialMark]?: string };

/**
 * What the idempotency table keeps of an answer: the answer itself when its body is small, its body gzipped when not,
 * or undefined when even that is larger than an item can hold.
 */
export function storableAnswer<T extends APIGatewayProxyResult | null | undefined>(response: T): T | StoredAnswer | undefined {
  if (!response || typeof response.body !== 'string' || Buffer.byteLength(response.body) <= compressAboveBytes) return response;
  const body = gzipSync(response.body).toString('base64');
  return body.length <= maxStoredBodyBytes ? { ...response, body, [gzippedBodyMark]: 'gzip-base64' } : undefined;
}

/** The answer a replay gives: a stored answer as it was first sent (a partial batch answer keeps its mark). */
export function replayedAnswer(stored: unknown): unknown {
  if (typeof stored !== 'object' || stored === null || (stored as StoredAnswer)[gzippedBodyMark] !== 'gzip-base64') return stored;
  const { [gzippedBodyMark]: _mark, ...answer } = stored as StoredAnswer;
  return { ...answer, body: gunzipSync(Buffer.from(answer.body, 'base64')).toString('utf8') };
}

/** A replayed answer that is a partial batch answer: the answer without its mark, and the mark. */
function partialAnswerIn(replay: unknown): { answer: APIGatewayProxyResult; mark: string } | undefined {
  if (typeof replay !== 'object' || replay === null || typeof (replay as StoredAnswer)[partialMark] !== 'string') return undefined;
  const { [partialMark]: mark, ...answer } = replay as StoredAnswer;
  return { answer, mark: mark! };
}

/**
 * The prefix of every key's record, the same in every function: a key belongs to the workspace, whatever route it
 * was first sent to, so the same key on another route is a reuse (422) on a stage as it is locally. Powertools'
 * default, the function's name, gave each function its own keys on a stage, while the local gateway, one process
 * with no function name, shared them. Versioned: stored answers and the request fingerprint changed with v2 (gzipped
 * bodies, the query string), and stored answers with v3 (a batch's partial answer, which the code before would replay
 * as final); a new prefix means a key stored by the code before simply runs again after a deploy,
 * rather than failing its fingerprint (422), and a rollback never replays a gzipped body it cannot read.
 */
const idempotencyKeyPrefix = 'gather#v3';

export function idempotencyMiddleware(): Middleware {
  const config = new IdempotencyConfig({
    // No header, no idempotency. The workspace is part of the key, so keys of different workspaces never meet.
    eventKeyJmesPath: `headers."${idempotencyHeader}" && [requestContext.authorizer.workspace, headers."${idempotencyHeader}"]`,
    // The conditional headers are part of the request: the same key sent with another If-Match is another request.
    // So is the query string: `DELETE /models/account/record?id=A` and `?id=B` are two requests. And the headers that
    // say what the body's bytes are: the same bytes as a form and as text/plain, or labelled `br` (each a 415), are
    // other requests, not a replay of the form's answer. The headers are compared as sent (a charset parameter added on
    // a retry makes another request).
    payloadValidationJmesPath:
      '[httpMethod, path, queryStringParameters, body, headers."content-type", headers."content-encoding", headers."if-match", headers."if-none-match"]',
    expiresAfterSeconds: idempotencyWindowSeconds,
    throwOnNoIdempotencyKey: false,
    responseHook: (stored) => replayedAnswer(stored) as ReturnType<NonNullable<IdempotencyConfig['responseHook']>>,
  });
  let inner: Middleware | undefined;
  const powertools = () => {
    persistence ??= new DynamoDBPersistenceLayer({ tableName: requireEnv('IDEMPOTENCY_TABLE_NAME'), awsSdkV3Client: sharedDynamoDbClient() });
    inner ??= makeHandlerIdempotent({ persistenceStore: persistence, config, keyPrefix: idempotencyKeyPrefix }) as Middleware;
    return inner;
  };
  /**
   * Claims the key, or answers the replay, through Powertools: it returns the stored answer only for a replay. A
   * request that throws here (the key in progress elsewhere, or reused for another request) owns nothing to clean up,
   * so only a successful claim is marked.
   */
  const claim = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    let partial: { answer: APIGatewayProxyResult; mark: string } | undefined;
    let replay: unknown;
    try {
      replay = await powertools().before!(request);
      partial = partialAnswerIn(replay);
    } catch (error) {
      // In progress: a resend continuing a partial answer may have died with it (its function stopped, or its answer
      // and its give-back both failed). Once that resend's time is over, the partial answer is taken up again.
      if ((error as Error).name !== 'IdempotencyAlreadyInProgressError') throw error;
      partial = await abandonedPartialAnswer(request);
      if (!partial) throw error;
    }
    if (partial) {
      // A batch answered with items to retry: this resend continues it, once it has taken the key's record over.
      await continuePartial(request, partial.mark);
      partialAnswers.set(request.event, partial.answer);
      requestState(request)[claimedKey] = true;
      return undefined;
    }
    requestState(request)[claimedKey] = true;
    if (replay !== undefined) markReplayed(request);
    return replay;
  };
  /** The key's record in the idempotency table, as Powertools names it (after its `before`). */
  const recordKeyOf = (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    const layer = persistence as unknown as { getKey(key: string): Record<string, AttributeValue>; getHashedIdempotencyKey(data: unknown): string };
    return { TableName: requireEnv('IDEMPOTENCY_TABLE_NAME'), Key: layer.getKey(layer.getHashedIdempotencyKey(request.event)) };
  };
  /** A conditional update of the key's record; a throttle or an outage is a 503 `unavailable`, a failed condition itself. */
  const updateRecord = (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>, update: Omit<UpdateItemCommandInput, 'TableName' | 'Key'>) =>
    withErrorMapping(() => sharedDynamoDbClient().send(new UpdateItemCommand({ ...recordKeyOf(request), ...update })));
  /** The partial answer an in-progress record holds once the resend that took it over is past its time; else undefined. */
  const abandonedPartialAnswer = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    const { Item: item } = await withErrorMapping(() => sharedDynamoDbClient().send(new GetItemCommand({ ...recordKeyOf(request), ConsistentRead: true })));
    const until = Number(item?.[continueUntilAttribute]?.N);
    if (!item?.data?.M || !(until < Date.now())) return undefined;
    return partialAnswerIn(replayedAnswer(unmarshall(item).data));
  };
  /**
   * Takes the partial answer's record over for this resend, in one conditional write: in progress (so a concurrent
   * resend gets 409) until this function's time is up, its stored answer kept (so a failure gives it back), and only
   * while it still holds the answer this resend read (marked `mark`), completed or abandoned by an earlier resend. The
   * record then has no Powertools in-progress expiry, so Powertools never claims it afresh (which would drop the
   * answer); the next resend after this one's time takes it up instead. The write carries this resend's token, so the
   * SDK's repeat of it, after a lost answer, is recognised as its own rather than as a competitor's.
   */
  const continuePartial = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>, mark: string) => {
    const token = randomUUID();
    const now = Date.now();
    try {
      await updateRecord(request, {
        UpdateExpression: 'SET #status = :inProgress, #until = :until, #token = :token REMOVE #inProgressExpiry',
        ConditionExpression: '#data.#mark = :mark AND (#status = :completed OR (#status = :inProgress AND #until < :now))',
        ExpressionAttributeNames: {
          '#status': 'status',
          '#until': continueUntilAttribute,
          '#token': continueTokenAttribute,
          '#inProgressExpiry': 'in_progress_expiration',
          '#data': 'data',
          '#mark': partialMark,
        },
        ExpressionAttributeValues: {
          ':inProgress': { S: 'INPROGRESS' },
          ':completed': { S: 'COMPLETED' },
          ':mark': { S: mark },
          ':now': { N: String(now) },
          ':until': { N: String(now + (request.context?.getRemainingTimeInMillis() ?? 29_000)) },
          ':token': { S: token },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      if (error.Item?.[continueTokenAttribute]?.S !== token) {
        throw new IdempotencyAlreadyInProgressError('Another request with this Idempotency-Key continues the same batch');
      }
      // The SDK's repeat of this very write, whose first answer was lost: the record is this resend's.
    }
    requestState(request)[continueTokenKey] = token;
  };
  /**
   * Gives a resend's record back to the partial answer it continued (completed again, the answer it kept untouched),
   * when the resend failed or its answer could not be stored: the next resend continues from there instead of running
   * every item again. Should this fail too, the record stays in progress until this resend's time is up, and the next
   * resend after that takes the partial answer up (above).
   */
  const giveBack = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    try {
      await updateRecord(request, {
        UpdateExpression: 'SET #status = :completed REMOVE #until, #token',
        ConditionExpression: '#status = :inProgress AND #token = :token',
        ExpressionAttributeNames: { '#status': 'status', '#until': continueUntilAttribute, '#token': continueTokenAttribute },
        ExpressionAttributeValues: { ':inProgress': { S: 'INPROGRESS' }, ':completed': { S: 'COMPLETED' }, ':token': { S: String(requestState(request)[continueTokenKey]) } },
      });
    } catch (error) {
      logger.error('idempotency: partial answer not given back', { error: error as Error });
    }
  };
  const continuing = (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => requestState(request)[continueTokenKey] !== undefined;
  // Only a request that claimed its key may complete or release the key's record; every other one leaves it alone.
  const claimed = (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) =>
    requestState(request)[claimedKey] === true;
  /**
   * Deletes the key's record so a retry runs again (a resend that continued a partial answer gives that answer back
   * instead, so the next resend continues from it). A failure to delete it never changes the answer (it would turn a
   * batch's per-item results, or the write's own answer, into a 503 or a 502): the key stays in progress until
   * Powertools' in-progress expiry (the function's remaining time), and a retry until then answers 409.
   */
  const forget = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    if (continuing(request)) return giveBack(request);
    try {
      await powertools().onError!(request);
    } catch (error) {
      logger.error('idempotency: key not released', { error: error as Error });
    }
  };
  /** Gives the key up after a write was applied: the client still gets its answer, and a retry runs again. */
  const release = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>, why: string, error?: unknown) => {
    logger.warn('idempotency: answer not remembered, key released', { why, ...(error ? { error: error as Error } : {}) });
    await forget(request);
  };
  /**
   * Stores the answer for replays, gzipped when large; an answer it cannot store releases the key instead. A `partial`
   * one (a batch with items to retry) is marked, so that a resend continues it rather than replaying it.
   */
  const remember = async (request: Request<APIGatewayProxyEvent, APIGatewayProxyResult>, partial = false) => {
    const answer = request.response;
    const storable = storableAnswer(answer);
    if (storable === undefined) return release(request, `the answer is over ${maxStoredBodyBytes} bytes even gzipped`);
    const stored: StoredAnswer | null = partial && storable ? { ...storable, [partialMark]: randomUUID() } : storable;
    request.response = stored as APIGatewayProxyResult;
    try {
      await powertools().after!(request);
    } catch (error) {
      await release(request, 'the idempotency table did not take the answer', error);
    } finally {
      request.response = answer;
    }
  };
  return {
    // Synchronous when there is no key, so middy has no promise to wait for.
    before: (request) => {
      const key = request.event.headers?.[idempotencyHeader];
      if (request.event.httpMethod === 'GET' || key === undefined) return undefined;
      if (!keyPattern.test(key)) {
        throw malformedHeader('Idempotency-Key', 'Idempotency-Key must be 1 to 255 visible ASCII characters', 'must be 1 to 255 visible ASCII characters');
      }
      return claim(request);
    },
    after: (request) => {
      if (!claimed(request)) return undefined;
      // An answer that asks for a retry must not be replayed: it releases the key like a failure. A batch whose items
      // were throttled (503s inside its 200) is kept as a partial answer: a resend with the key writes those items
      // only, and answers the others as they were first answered.
      if (isRetryableAnswer(request.response)) return forget(request);
      return remember(request, hasRetryableItems(request.response));
    },
    onError: (request) => {
      if (!claimed(request)) return undefined;
      if (!isNothingToDelete(request)) return forget(request);
      // A delete's 404 is its outcome, as a 204 is (clients treat both as done): remembered like one, so that a retry
      // with the key replays it rather than deleting a record made since. The answer is the envelope's, as it would be.
      request.response = errorResponse(mapRequestError(request));
      return remember(request).then(() => request.response);
    },
  };
}
