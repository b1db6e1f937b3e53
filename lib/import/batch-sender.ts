/**
 * Sends one batch to `POST /models/{model}/batch` and returns its per-item results. Upserts are idempotent, so a batch
 * can be resent safely: 429 and 503 are retried after their Retry-After (or an exponential backoff with jitter), and so
 * are network failures and other 5xx; a 413 splits the batch in two. Anything else fails the import with the API's
 * own error message.
 */
export interface BatchItemResult {
  readonly op: 'upsert' | 'delete';
  readonly index: number;
  readonly status: number;
  readonly id?: string;
  readonly error?: { readonly code: string; readonly message: string; readonly details?: unknown };
}

export interface SenderOptions {
  readonly baseUrl: string;
  readonly token: string;
  readonly model: string;
  /** Attempts per batch before the import gives up. @default 10 */
  readonly maxAttempts?: number;
  /** Ceiling of one backoff wait. @default 30 s */
  readonly maxDelayMs?: number;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told about each retry (for the progress display). */
  readonly onRetry?: (status: number | string, delayMs: number) => void;
}

export class FatalImportError extends Error {}

function retryDelay(attempt: number, retryAfter: string | null, maxDelayMs: number): number {
  const backoff = Math.min(maxDelayMs, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  // Honour Retry-After, and never retry sooner than the backoff says either.
  return Math.min(maxDelayMs, Math.max(seconds !== undefined ? seconds * 1000 : 0, backoff));
}

export async function sendBatch(records: readonly Record<string, unknown>[], options: SenderOptions): Promise<BatchItemResult[]> {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const maxAttempts = options.maxAttempts ?? 10;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const url = `${options.baseUrl.replace(/\/$/, '')}/models/${encodeURIComponent(options.model)}/batch`;

  for (let attempt = 0; ; attempt += 1) {
    let status: number | string;
    let retryAfter: string | null = null;
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { Authorization: `Token ${options.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ records }),
      });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      const text = await response.text();
      if (status === 200) return (JSON.parse(text) as { results: BatchItemResult[] }).results;
      if (status === 413 && records.length > 1) {
        const half = Math.ceil(records.length / 2);
        const first = await sendBatch(records.slice(0, half), options);
        const second = await sendBatch(records.slice(half), options);
        return [...first, ...second.map((result) => ({ ...result, index: result.index + half }))];
      }
      if (status !== 429 && status < 500) {
        let message = text;
        try {
          message = (JSON.parse(text) as { error: { message: string } }).error.message;
        } catch {
          // not the envelope: keep the text
        }
        throw new FatalImportError(`The API refused the batch with ${status}: ${message}`);
      }
    } catch (error) {
      if (error instanceof FatalImportError) throw error;
      status = (error as Error).message;
    }
    if (attempt + 1 >= maxAttempts) throw new FatalImportError(`Gave up after ${maxAttempts} attempts; the last answer was ${status}`);
    const delay = retryDelay(attempt, retryAfter, maxDelayMs);
    options.onRetry?.(status, delay);
    await sleep(delay);
  }
}
