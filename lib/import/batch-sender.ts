/**
 * Sends one batch to `POST /models/{model}/batch` and returns its per-item results. Upserts are idempotent, so a batch
 * can be resent safely: 429 and 503 are retried after their Retry-After (or an exponential backoff with jitter), and so
 * are network failures and other 5xx; a 413 splits the batch in two. Anything else fails the import with the API's
 * own error message. Items the API answers with a 429 or 503 inside its 200 (throttled after its own retries, or not
 * started before the batch's deadline) are sent again the same way, each with the later items of the same record, so
 * the file's order still decides; when the attempts run out the import stops, and `--resume` sends the batch again.
 *
 * A whole batch answered 429 (the workspace's rate limit) spends no attempt: the API wrote nothing and asks to come back
 * later, so with more batches in flight than the limit lets through at once, some are always refused while the import
 * as a whole moves at the limit's pace. Such a batch waits and tries again until it has waited `maxRateLimitedMs` in a
 * row (10 minutes by default), which only an API refusing everything reaches.
 */
import type { ItemResult } from '../http/batch-response.js';
import { retryAfterSeconds } from '../http/retry-after.js';

export interface SenderOptions {
  readonly baseUrl: string;
  readonly token: string;
  readonly model: string;
  /** Attempts per batch before the import gives up. @default 10 */
  readonly maxAttempts?: number;
  /** Ceiling of one backoff wait. @default 30 s */
  readonly maxDelayMs?: number;
  /** How long one batch may wait on 429s in a row before the import gives up. @default 10 minutes */
  readonly maxRateLimitedMs?: number;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told about each retry (for the progress display). */
  readonly onRetry?: (status: number | string, delayMs: number) => void;
  /**
   * The record an item writes (its normalized id), so an item sent again takes the later items of the same record with
   * it. @default every item its own record
   */
  readonly recordKey?: (record: Record<string, unknown>, index: number) => string;
}

export class FatalImportError extends Error {}

/** A model's URL under the API's base URL (with or without a trailing slash). */
export const modelUrl = (baseUrl: string, model: string): string => `${baseUrl.replace(/\/$/, '')}/models/${encodeURIComponent(model)}`;

/** The `error` of the API's envelope in a response body, or undefined when the body is not the envelope. */
export function envelopeError(text: string): { code: string; message: string } | undefined {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    return typeof error?.code === 'string' && typeof error.message === 'string' ? { code: error.code, message: error.message } : undefined;
  } catch {
    return undefined;
  }
}

/** The sender's settings, defaults filled in. */
function settingsOf(options: SenderOptions) {
  return {
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    maxAttempts: options.maxAttempts ?? 10,
    maxDelayMs: options.maxDelayMs ?? 30_000,
    maxRateLimitedMs: options.maxRateLimitedMs ?? 10 * 60_000,
  };
}

function retryDelay(attempt: number, retryAfter: string | null, maxDelayMs: number): number {
  const backoff = Math.min(maxDelayMs, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
  const seconds = retryAfterSeconds(retryAfter);
  // Honour Retry-After, and never retry sooner than the backoff says either.
  return Math.min(maxDelayMs, Math.max(seconds !== undefined ? seconds * 1000 : 0, backoff));
}

/**
 * An item the API could not write this time: throttled after its own retries (503, or 429), or not started before the
 * batch's deadline (503). A 500 is the API's defect and would answer the same again: that row goes to the rejects file.
 */
const retryableItem = (result: ItemResult) => result.status === 429 || result.status === 503;

export async function sendBatch(records: readonly Record<string, unknown>[], options: SenderOptions): Promise<ItemResult[]> {
  const { sleep, maxAttempts, maxDelayMs } = settingsOf(options);
  const recordKey = options.recordKey ?? ((_record, index) => `#${index}`);
  const results: ItemResult[] = [];
  // Each item's first answer that wrote it: a row created on the first try and written again with a retried row of its
  // record still counts as created.
  const firstWrite: (ItemResult | undefined)[] = [];
  const answer = (result: ItemResult) => {
    results[result.index] = result;
    if (result.status < 300) firstWrite[result.index] ??= result;
  };
  for (const result of await postBatch(records, options)) answer(result);

  for (let attempt = 0; ; attempt += 1) {
    const pending = results.filter(retryableItem);
    if (pending.length === 0) return results;
    const example = pending[0]!;
    if (attempt + 1 >= maxAttempts) {
      throw new FatalImportError(`Gave up after ${maxAttempts} attempts: ${pending.length} items still answered ${example.status} ${example.error?.code ?? ''}`.trim());
    }
    // From each record's first item to write again, every later item of that record goes again too, in order: one of
    // them may have been written after the item that failed, and must stay the last word.
    const firstPending = new Map<string, number>();
    for (const { index } of pending) {
      const key = recordKey(records[index]!, index);
      if (!firstPending.has(key)) firstPending.set(key, index);
    }
    const resend = records.map((_, index) => index).filter((index) => index >= (firstPending.get(recordKey(records[index]!, index)) ?? Infinity));
    const delay = retryDelay(attempt, null, maxDelayMs);
    options.onRetry?.(example.status, delay);
    await sleep(delay);
    for (const result of await postBatch(resend.map((index) => records[index]!), options)) {
      const index = resend[result.index]!;
      const before = results[index]!;
      const now = { ...result, index };
      // An item already answered keeps that answer, unless writing it again failed (then it goes again); one written at
      // last answers with its first write.
      if (retryableItem(now)) results[index] = now;
      else if (retryableItem(before)) answer(firstWrite[index] ?? now);
    }
  }
}

/**
 * A request to the API, sent again while it answers 429 or a 5xx (and, with `retryUnreachable`, while it cannot be
 * reached) within the sender's limits, as a batch is; the first other answer. A 429 spends no attempt (above).
 */
export async function fetchRetrying(url: string, init: RequestInit, options: SenderOptions, retryUnreachable: boolean): Promise<{ status: number; text: string }> {
  const doFetch = options.fetch ?? fetch;
  const { sleep, maxAttempts, maxDelayMs, maxRateLimitedMs } = settingsOf(options);
  // Failed attempts (they count toward maxAttempts), and the 429s in a row and the time waited on them (they do not);
  // each kind of answer backs off from its own count, so a long run of 429s does not make the next 503 wait the most.
  let failures = 0;
  let rateLimitedTries = 0;
  let rateLimitedMs = 0;

  for (;;) {
    let status: number | string;
    let retryAfter: string | null = null;
    try {
      const response = await doFetch(url, init);
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      const text = await response.text();
      if (status !== 429 && status < 500) return { status, text };
    } catch (error) {
      if (!retryUnreachable) throw error;
      status = (error as Error).message;
    }
    if (status === 429) {
      rateLimitedTries += 1;
      if (rateLimitedMs >= maxRateLimitedMs) {
        throw new FatalImportError(
          `The API answered 429 (rate limited) for ${Math.round(rateLimitedMs / 1000)} s in a row; lower --concurrency or ask for a higher rate limit, then --resume`,
        );
      }
    } else {
      rateLimitedTries = 0;
      rateLimitedMs = 0;
      failures += 1;
      if (failures >= maxAttempts) throw new FatalImportError(`Gave up after ${maxAttempts} attempts; the last answer was ${status}`);
    }
    const delay = retryDelay(status === 429 ? rateLimitedTries - 1 : failures - 1, retryAfter, maxDelayMs);
    // Counted at 100 ms at least, so even a caller that sets no backoff at all reaches the limit.
    if (status === 429) rateLimitedMs += Math.max(delay, 100);
    options.onRetry?.(status, delay);
    await sleep(delay);
  }
}

/** One batch to the API, retried as a whole until it answers 200 (or split on 413); its results, by item. */
async function postBatch(records: readonly Record<string, unknown>[], options: SenderOptions): Promise<ItemResult[]> {
  const url = `${modelUrl(options.baseUrl, options.model)}/batch`;
  const init = { method: 'POST', headers: { Authorization: `Token ${options.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ records }) };
  const { status, text } = await fetchRetrying(url, init, options, true);
  if (status === 200) return (JSON.parse(text) as { results: ItemResult[] }).results;
  if (status === 413 && records.length > 1) {
    const half = Math.ceil(records.length / 2);
    const first = await postBatch(records.slice(0, half), options);
    const second = await postBatch(records.slice(half), options);
    return [...first, ...second.map((result) => ({ ...result, index: result.index + half }))];
  }
  // One row too large for a batch on its own is that row's answer, not the import's end: it goes to the rejects file.
  if (status === 413) {
    const error = envelopeError(text) ?? { code: 'payload_too_large', message: 'This row alone is larger than a batch may be' };
    return [{ op: 'upsert', index: 0, status, error }];
  }
  throw new FatalImportError(`The API refused the batch with ${status}: ${envelopeError(text)?.message ?? text}`);
}
