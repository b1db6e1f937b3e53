/**
 * Sends one batch to `POST /models/{model}/batch` and returns its per-item results. Every send of a batch carries the
 * same `Idempotency-Key`, so a send whose answer was lost, or that reached the API while an earlier send (of this run,
 * or of the run --resume continues) was still running, gets that send's answer (after a 409 `request_in_progress`,
 * waited out) instead of writing its rows again, where an earlier row of a record written again would pass over a
 * later one; only a key the API forgot (after 24 hours) or an answer it could not store runs the rows again. 429 and 503 are retried after their
 * Retry-After (or an exponential backoff with jitter), and so are network failures and other 5xx; a 413 splits the
 * batch in two, each half with a key of its own. Anything else fails the import with the API's own error message.
 * Items the API answers with a 429 or 503 inside its 200 (throttled after its own retries, or held or not started
 * before the batch's deadline) are taken up by sending the batch again with its key: the API runs only those items and
 * the later items of their records, in order, and answers the others as it first did (docs/api.md, Idempotency-Key).
 * A send that wrote some of them is progress and spends no attempt; when the attempts run out without progress the
 * import stops, and `--resume` sends the batch again, with the same key.
 *
 * A whole batch answered 429 (the workspace's rate limit) spends no attempt: the API wrote nothing and asks to come back
 * later, so with more batches in flight than the limit lets through at once, some are always refused while the import
 * as a whole moves at the limit's pace. Such a batch waits and tries again until it has waited `maxRateLimitedMs` in a
 * row (10 minutes by default), which only an API refusing everything reaches.
 */
import { isRetryableItem } from '../http/batch-resend.js';
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
  /** Told when the API answered a batch with items to send again (a partial answer, kept under the batch's key). */
  readonly onPartialAnswer?: () => void;
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
 * One batch, sent under `idempotencyKey` (1 to 255 visible ASCII characters, unique to this batch of this import run)
 * until none of its items is left to retry; its results, by item, as the API last answered them (an item done on an
 * earlier send keeps the answer it got then: a row created on the first send still answers 201).
 */
export async function sendBatch(records: readonly Record<string, unknown>[], options: SenderOptions, idempotencyKey: string): Promise<ItemResult[]> {
  const { sleep, maxAttempts, maxDelayMs } = settingsOf(options);
  // Each item's first answer that wrote it. The API keeps it too, but an answer it could not remember (too large, or
  // its table failing) releases the key, and the next send runs every item again: a row created then still counts as
  // created, and its later answer (200, unchanged) does not replace that.
  const firstWrite: (ItemResult | undefined)[] = [];
  const answered = (results: ItemResult[]) =>
    results.map((result) => {
      if (result.status < 300) firstWrite[result.index] ??= result;
      return firstWrite[result.index] ?? result;
    });
  let sent = await postBatch(records, options, idempotencyKey);
  let results = answered(sent.results);
  // Progress is fewer items left than ever before; sends in a row since then wrote none.
  let fewestLeft = Infinity;
  let fruitless = 0;
  for (;;) {
    // Items the API could not write this time (429 or 503: throttled, held behind an earlier item of their record, or
    // not started before the batch's deadline), by the API's own rule. A 500 is a defect that would answer the same
    // again: its row goes to the rejects file, and the API holds nothing back for it.
    const pending = results.filter(isRetryableItem);
    if (pending.length === 0) return results;
    options.onPartialAnswer?.();
    if (pending.length < fewestLeft) {
      fewestLeft = pending.length;
      fruitless = 0;
    } else fruitless += 1;
    const example = pending[0]!;
    if (fruitless >= maxAttempts) {
      throw new FatalImportError(
        `Gave up after ${maxAttempts} sends in a row that wrote none of the items left: ${pending.length} item${pending.length === 1 ? '' : 's'} still answered ${example.status} ${example.error?.code ?? ''}`.trim(),
      );
    }
    // The pause the answer asks for before its 503 items are sent again, or the backoff if longer.
    const delay = retryDelay(fruitless, sent.retryAfter, maxDelayMs);
    options.onRetry?.(example.status, delay);
    await sleep(delay);
    sent = await postBatch(records, options, idempotencyKey);
    results = answered(sent.results);
  }
}

/**
 * A request to the API, sent again while it answers 429 or a 5xx (and, with `retryUnreachable`, while it cannot be
 * reached) within the sender's limits, as a batch is; the first other answer. A 429 spends no attempt (above).
 */
export async function fetchRetrying(
  url: string,
  init: RequestInit,
  options: SenderOptions,
  retryUnreachable: boolean,
): Promise<{ status: number; text: string; retryAfter: string | null }> {
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
      // The same Idempotency-Key still running (an earlier send whose answer was lost, or one of the run --resume
      // continues): its answer comes once it is done.
      const inProgress = status === 409 && envelopeError(text)?.code === 'request_in_progress';
      if (status !== 429 && status < 500 && !inProgress) return { status, text, retryAfter };
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

/**
 * One batch to the API, retried as a whole until it answers 200 (or split on 413); its results, by item, and the
 * Retry-After of an answer that has items to send again.
 */
async function postBatch(records: readonly Record<string, unknown>[], options: SenderOptions, idempotencyKey: string): Promise<{ results: ItemResult[]; retryAfter: string | null }> {
  const url = `${modelUrl(options.baseUrl, options.model)}/batch`;
  const init = {
    method: 'POST',
    headers: { Authorization: `Token ${options.token}`, 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
    body: JSON.stringify({ records }),
  };
  const { status, text, retryAfter } = await fetchRetrying(url, init, options, true);
  if (status === 200) return { results: (JSON.parse(text) as { results: ItemResult[] }).results, retryAfter };
  if (status === 422 && envelopeError(text)?.code === 'idempotency_key_reused') {
    throw new FatalImportError(`The API holds this batch's Idempotency-Key (${idempotencyKey}) for another request: the rows or the model changed since it was first sent; start the import again without --resume`);
  }
  if (status === 413 && records.length > 1) {
    // Each half is another request, so it has a key of its own, the same on every send of this batch; the first is
    // finished, its retries included, before the second is sent, so a record's row in the first half is never
    // written after its later row in the second.
    const half = Math.ceil(records.length / 2);
    const first = await sendBatch(records.slice(0, half), options, `${idempotencyKey}.1`);
    const second = await sendBatch(records.slice(half), options, `${idempotencyKey}.2`);
    return { results: [...first, ...second.map((result) => ({ ...result, index: result.index + half }))], retryAfter: null };
  }
  // One row too large for a batch on its own is that row's answer, not the import's end: it goes to the rejects file.
  if (status === 413) {
    const error = envelopeError(text) ?? { code: 'payload_too_large', message: 'This row alone is larger than a batch may be' };
    return { results: [{ op: 'upsert', index: 0, status, error }], retryAfter: null };
  }
  throw new FatalImportError(`The API refused the batch with ${status}: ${envelopeError(text)?.message ?? text}`);
}
