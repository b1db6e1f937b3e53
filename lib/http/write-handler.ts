/**
 * The middy stack of the write functions: the HTTP stack of lib/http/http-handler.ts with `Idempotency-Key`
 * (lib/http/idempotency.ts) checked after identity and scope, so a request that may not use the route leaves no
 * idempotency record. Every route other than GET is served by a function built with this; a unit test checks it against
 * lib/routes.ts.
 */
import { httpHandler, type HttpHandlerFunction } from './http-handler.js';
import { idempotencyMiddleware } from './idempotency.js';

/** Marks a handler built here, for that check. */
export const idempotentHandler = Symbol.for('gather.idempotentHandler');

export function writeHandler(handle: HttpHandlerFunction) {
  return Object.assign(httpHandler(handle, { afterIdentity: [idempotencyMiddleware()] }), { [idempotentHandler]: true as const });
}
