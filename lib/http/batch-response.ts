/**
 * A batch's answer: one result per item, each refused item with its error (SPEC section 4, "Batch"). The answer must
 * fit Lambda's 6 MB response, and 1,000 refused items can say far more than that (each names every bad field, up to
 * 300 of 255 bytes, in its message and details). So when the full answer would weigh more than `maxResponseBytes`
 * (lib/records/response-size.ts), the errors say less, in two steps: first each keeps its first details and a line
 * counting the rest, with its message cut short; then each keeps only its code and a short message. Every item still
 * has its result, status and id (a refused item's id cut to 1,024 characters); sending a refused item alone gives its
 * full error.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { BatchItemResult } from '../records/batch-service.js';
import type { FieldIssue } from '../records/errors.js';
import { limits } from '../records/limits.js';
import { maxResponseBytes, responseBytes } from '../records/response-size.js';
import { mapError } from './error-envelope.js';
import { jsonTextResponse } from './responses.js';
import { retryAfterSeconds } from './retry-after.js';

const statusOf = { created: 201, updated: 200, unchanged: 200, deleted: 204 } as const;

interface ItemError {
  readonly code: string;
  readonly message: string;
  readonly details?: readonly FieldIssue[];
}

/** One item of a batch answer's `results`, as the client reads it (the importer, lib/import/batch-sender.ts, too). */
export interface ItemResult {
  readonly op: 'upsert' | 'delete';
  readonly index: number;
  readonly status: number;
  readonly id?: string;
  readonly error?: ItemError;
}

/** How many details each error keeps in the first step. */
export const detailsKeptWhenLarge = 5;
const shortMessageLength = 200;

/** The first `length` characters and an ellipsis, never splitting a surrogate pair. */
function cut(text: string, length: number): string {
  if (text.length <= length) return text;
  const end = /[\ud800-\udbff]/.test(text.charAt(length - 1)) ? length - 1 : length;
  return `${text.slice(0, end)}…`;
}

/** The first step: the first few details, a line counting the others, and a message of at most 200 characters. */
function trimmed(error: ItemError): ItemError {
  const details = error.details ?? [];
  const more = details.length - detailsKeptWhenLarge;
  return {
    code: error.code,
    message: cut(error.message, shortMessageLength),
    ...(details.length > 0
      ? { details: more > 0 ? [...details.slice(0, detailsKeptWhenLarge), { field: '*', issue: `${more} more issues not shown; send this item alone to see them all` }] : details }
      : {}),
  };
}

/** The second step: the code and a short message that says where the rest went. */
function bare(error: ItemError): ItemError {
  return { code: error.code, message: 'Refused; the batch answer is too large to say why for every item: send this item alone to see its error' };
}

/**
 * The answer to a batch. `completeItems`: what turns the items this run answered into the answer's items (a resend
 * with an Idempotency-Key fills the slots it did not run from the answer it continues, lib/http/batch-resend.ts).
 */
export function batchResponse(
  results: readonly (BatchItemResult | undefined)[],
  requestId: string,
  completeItems: (items: readonly (ItemResult | undefined)[]) => ItemResult[] = (items) => items as ItemResult[],
): APIGatewayProxyResult {
  // The longest pause an item answered 503 (or 429) asks for: the answer's Retry-After, as a whole request's 503 has.
  let retryAfter: number | undefined;
  const items = completeItems(Array.from(results, (result) => {
    if (result === undefined) return undefined;
    if ('error' in result) {
      const mapped = mapError(result.error, requestId);
      const pause = retryAfterSeconds(mapped.headers?.['Retry-After']);
      if (pause !== undefined) retryAfter = Math.max(retryAfter ?? 0, pause);
      const { request_id: _ignored, ...error } = mapped.envelope.error;
      // A refused item's id may be what it was refused for (over 1,024 bytes): echoed cut to that length, so 1,000 of
      // them still fit the answer.
      return { op: result.op, index: result.index, status: mapped.statusCode, ...(result.id !== undefined ? { id: cut(result.id, limits.maxIdBytes) } : {}), error };
    }
    return { op: result.op, index: result.index, status: statusOf[result.outcome], id: result.id };
  }));
  let body = JSON.stringify({ results: items });
  for (const shorten of [trimmed, bare]) {
    if (responseBytes(body) <= maxResponseBytes) break;
    body = JSON.stringify({ results: items.map((item) => (item.error ? { ...item, error: shorten(item.error) } : item)) });
  }
  return jsonTextResponse(200, body, retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {});
}
