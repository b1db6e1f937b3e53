/**
 * The middy stack of the write functions: the HTTP stack of lib/http/http-handler.ts with `Idempotency-Key`
 * (lib/http/idempotency.ts) checked after identity and scope, so a request that may not use the route leaves no
 * idempotency record. Every route other than GET is served by a function built with this; a unit test checks it against
 * lib/routes.ts.
 */
import { worstCaseCallMs } from '../store/dynamodb-client.js';
import { httpHandler, type HttpHandlerFunction, type HttpRequest } from './http-handler.js';
import { idempotencyMiddleware } from './idempotency.js';

/** Marks a handler built here, for that check. */
export const idempotentHandler = Symbol.for('gather.idempotentHandler');

export function writeHandler(handle: HttpHandlerFunction) {
  return Object.assign(httpHandler(handle, { afterIdentity: [idempotencyMiddleware()] }), { [idempotentHandler]: true as const });
}

/**
 * Epoch ms after which a write route starts no more DynamoDB calls of its own (a batch's items, a model PUT's tries):
 * the function's time less one call's whole retry budget and a second to answer, so it always ends in time.
 */
export function writeDeadline(request: HttpRequest): number {
  return Date.now() + request.remainingTimeMs() - worstCaseCallMs - 1000;
}
