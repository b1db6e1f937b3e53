/**
 * The end-to-end scenario, written once: `npm run smoke` runs it from a terminal (and `npm test` against the local
 * stack), and the scheduled-test function runs it against a deployed stage. Every record it makes carries the run id,
 * so concurrent runs never collide, and it deletes what it made even when a step fails. Like any well-behaved client
 * it retries a 429 or 503 after its Retry-After (three times, at most 5 s each), so one throttled request is not an
 * outage; a clean-up that still fails is reported with the record it left behind.
 */
import { randomUUID } from 'node:crypto';
import { retryAfterSeconds } from '../http/retry-after.js';

export interface StepResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  /** On failure: what was expected and what came back. */
  readonly detail?: string;
}

export interface ScenarioResult {
  readonly runId: string;
  readonly ok: boolean;
  /** Stopped by `signal` (Ctrl-C) before it was over. */
  readonly interrupted: boolean;
  readonly steps: StepResult[];
  /** What the clean-up could not delete, with the answer it got: records left behind. */
  readonly leftovers: string[];
}

export interface ScenarioOptions {
  readonly baseUrl: string;
  readonly token: string;
  /** Told about each step as it ends (for live output). */
  readonly onStep?: (step: StepResult) => void;
  readonly fetch?: typeof fetch;
  /** Waits before a retry. @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * When the run must be over (epoch ms; the scheduled function's timeout less a margin): no retry starts after it,
   * and a request still running then is aborted, so the run always reports. @default none
   */
  readonly deadline?: number;
  /**
   * When the clean-up must be over (epoch ms), for a run whose steps stop at `deadline`: a run stopped by its deadline
   * still has this long to delete what it made. @default `deadline`
   */
  readonly cleanupDeadline?: number;
  /**
   * Stops the run when aborted (Ctrl-C in a terminal): a read in flight is abandoned, a write in flight is let finish
   * (within its own time limit: abandoned, it could land after the clean-up looked for its record), no retry and no step
   * starts after it, and the clean-up still runs, with requests of its own. @default none
   */
  readonly signal?: AbortSignal;
}

/** The longest one request may take: a hung API fails its step instead of the run. */
const requestTimeoutMs = 10_000;

/** Retries of a 429 or 503, and the longest wait for one, whatever Retry-After asks. */
const retriesOfThrottling = 3;
const longestRetryWaitMs = 5000;

/**
 * Reads of the listing indexes, which trail the writes before them by a moment (global secondary indexes are eventually
 * consistent, docs/api.md "Listing"): a listing that does not yet show what the run wrote is read again, up to this many
 * times in all, this far apart, before its step fails. DynamoDB Local's indexes never trail; a stage's can.
 */
const indexReadAttempts = 5;
const indexReadPauseMs = 500;

/** How many steps a run has: it passed when every one of them did. */
export const scenarioStepCount = 13;

class StepFailure extends Error {}

/** Resolves once the signal is aborted. */
const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/**
 * A request that failed before anything reached a server: no URL, no connection (refused, or a host name that does not
 * resolve), or no TLS session (an https URL to a plain-HTTP server, a certificate refused). Nothing can have been
 * written.
 */
function neverSent(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  return (
    code === 'ERR_INVALID_URL' ||
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    (code !== undefined && /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$)/.test(code))
  );
}

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
  /** Sent more than once (after a 429 or 503): a write may have been applied by an earlier attempt. */
  readonly retried: boolean;
  /** Every attempt's status, the last one's included. */
  readonly statuses: readonly number[];
}

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const base = options.baseUrl.replace(/\/$/, '');
  const runId = `${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomUUID().slice(0, 8)}`;
  const account = `Smoke Co ${runId}`;
  const email = `smoke+${runId}@example.com`;
  const accountPath = `/models/account/records/${encodeURIComponent(account)}`;
  const customerPath = `/models/customer/records/${encodeURIComponent(email)}`;
  const steps: StepResult[] = [];

  const send = async (method: string, path: string, init: { form?: string; json?: unknown; headers?: Record<string, string>; cleanup?: boolean } = {}): Promise<Answer> => {
    const headers: Record<string, string> = { Authorization: `Token ${options.token}`, ...init.headers };
    let body: string | undefined;
    if (init.form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = init.form;
    } else if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    // The clean-up's requests, and their waits, run after an interruption too, and until the clean-up's own deadline.
    const deadline = init.cleanup ? (options.cleanupDeadline ?? options.deadline) : options.deadline;
    const left = () => (deadline === undefined ? Infinity : deadline - Date.now());
    const interrupt = init.cleanup ? undefined : options.signal;
    // Nothing starts once the run is interrupted (a step's second request included).
    if (interrupt?.aborted) throw new StepFailure('interrupted');
    // An interruption abandons a read at once; a write runs to its answer (or its time limit), so that the clean-up's
    // DELETE comes after it, not before a create that then lands.
    const abandonable = method === 'GET' ? interrupt : undefined;
    const signal = () => {
      const timeout = AbortSignal.timeout(Math.max(1, Math.min(requestTimeoutMs, left())));
      return abandonable ? AbortSignal.any([timeout, abandonable]) : timeout;
    };
    const attempt = () => doFetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}), signal: signal() });
    let response: Response;
    try {
      response = await attempt();
    } catch (error) {
      throw neverSent(error) ? Object.assign(error as Error, { neverSent: true }) : error;
    }
    let retried = false;
    const statuses = [response.status];
    for (let retry = 0; retry < retriesOfThrottling && (response.status === 429 || response.status === 503); retry++) {
      const asked = retryAfterSeconds(response.headers.get('retry-after'));
      const wait = Math.min(asked ? asked * 1000 : 1000, longestRetryWaitMs);
      if (wait + 1000 > left()) break;
      // Ctrl-C ends the wait too, and then no attempt follows: the last answer stands.
      if (interrupt) await Promise.race([sleep(wait), aborted(interrupt)]);
      else await sleep(wait);
      if (interrupt?.aborted) break;
      await response.text();
      response = await attempt();
      statuses.push(response.status);
      retried = true;
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: response.status, body: parsed, headers: response.headers, retried, statuses };
  };
  const expect = (condition: boolean, expected: string, answer: Answer) => {
    // Up to 1,000 characters: a record's whole envelope, with its links at the end, fits (300 cut off the field checked).
    if (!condition) throw new StepFailure(`expected ${expected}; got ${answer.status} ${answer.body === undefined ? '(no body)' : JSON.stringify(answer.body).slice(0, 1000)}`);
  };
  /** A listing, read again while it answers 200 without what the run wrote (its index may trail the write). */
  const readIndex = async (path: string, shows: (answer: Answer) => boolean): Promise<Answer> => {
    let answer = await send('GET', path);
    for (let attempt = 1; attempt < indexReadAttempts && answer.status === 200 && !shows(answer) && !options.signal?.aborted; attempt++) {
      await sleep(indexReadPauseMs);
      answer = await send('GET', path);
    }
    return answer;
  };
  // A retried write may have been applied by the attempt that answered 503: its retry then finds it done.
  const created = (answer: Answer) => answer.status === 201 || (answer.retried && answer.status === 200 && answer.body?.version === 1);
  const deleted = (answer: Answer) => answer.status === 204 || (answer.retried && answer.status === 404);
  /**
   * The records the clean-up must look for: one whose create was sent and not refused. A 4xx changes nothing (a wrong
   * key, a read-only key, a rate limit, a server that is not Gather), and a create never sent (no server to connect to)
   * made nothing, so neither is reported as left behind; an answer that never came, or a 5xx, may hide an applied write,
   * also when a retry of it was then refused.
   */
  const mayExist = new Set<'account' | 'customer'>();
  const create = async (record: 'account' | 'customer', init: { form?: string; json?: unknown }) => {
    mayExist.add(record);
    let answer: Answer;
    try {
      answer = await send('POST', `/models/${record}/records`, init);
    } catch (error) {
      if ((error as { neverSent?: boolean }).neverSent) mayExist.delete(record);
      throw error;
    }
    if (answer.statuses.every((status) => status >= 400 && status < 500)) mayExist.delete(record);
    return answer;
  };
  const step = async (name: string, run: () => Promise<void>) => {
    if (options.signal?.aborted) throw new StepFailure('interrupted');
    const started = performance.now();
    let result: StepResult;
    try {
      await run();
      result = { name, ok: true, ms: performance.now() - started };
    } catch (error) {
      // fetch says only "fetch failed"; its cause says why (refused, unknown host, TLS).
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const detail = options.signal?.aborted
        ? 'interrupted'
        : error instanceof StepFailure
          ? error.message
          : `request failed: ${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
      result = { name, ok: false, ms: performance.now() - started, detail };
    }
    steps.push(result);
    options.onStep?.(result);
    if (!result.ok) throw new StepFailure(result.detail);
  };

  let unexpected: unknown;
  try {
    await step('upsert an account by form', async () => {
      const answer = await create('account', { form: `name=${encodeURIComponent(account)}&size=50-100` });
      expect(created(answer) && answer.body?.fields?.size === '50-100', '201 with fields.size "50-100"', answer);
    });
    await step('upsert a linked customer by JSON', async () => {
      const answer = await create('customer', { json: { email, account, title: 'Creative Director' } });
      expect(created(answer) && answer.body?.links?.account?.exists === true, '201 with links.account.exists true', answer);
    });
    await step('read the account', async () => {
      const answer = await send('GET', accountPath);
      expect(answer.status === 200 && answer.body?.id === account && answer.headers.get('etag') === '"1"', `200 for "${account}" with ETag "1"`, answer);
    });
    await step('read the customer, linked', async () => {
      const answer = await send('GET', customerPath);
      expect(answer.status === 200 && answer.body?.links?.account?.exists === true, '200 with links.account.exists true', answer);
    });
    // The listings run on the table's indexes, which no single-record step reads: a function that lost its grant on
    // one, or an index that stopped filling, fails here.
    await step("list the account's customers", async () => {
      const listsCustomer = (answer: Answer) =>
        Array.isArray(answer.body?.records) && (answer.body.records as { id?: unknown }[]).some((record) => record?.id === email);
      const answer = await readIndex(`${accountPath}/customers?limit=10`, listsCustomer);
      expect(answer.status === 200 && listsCustomer(answer), `200 listing ${email}`, answer);
    });
    await step('list a page of accounts', async () => {
      const onePage = (answer: Answer) => {
        const page = answer.body as { records?: { model?: unknown }[]; next_cursor?: unknown } | undefined;
        return Array.isArray(page?.records) && page.records.length === 1 && page.records[0]?.model === 'account' && (page.next_cursor === null || typeof page.next_cursor === 'string');
      };
      const answer = await readIndex('/models/account/records?limit=1', onePage);
      expect(answer.status === 200 && onePage(answer), '200 with one account and a next_cursor (a string or null)', answer);
    });
    await step('repeat an upsert: version unchanged', async () => {
      const answer = await send('POST', '/models/customer/records', { json: { email, account, title: 'Creative Director' } });
      expect(answer.status === 200 && answer.body?.version === 1, '200 at version 1', answer);
    });
    await step('merge a field', async () => {
      const answer = await send('POST', '/models/account/records', { json: { name: account, plan: 'pro' } });
      expect(answer.status === 200 && answer.body?.version === 2 && answer.body?.fields?.size === '50-100' && answer.body?.fields?.plan === 'pro', '200 at version 2 with size and plan', answer);
    });
    // The batch route is the importer's only one.
    await step('merge a field by batch', async () => {
      const answer = await send('POST', '/models/account/batch', { json: { records: [{ name: account, tier: 'gold' }] } });
      const [item] = Array.isArray(answer.body?.results) ? (answer.body.results as { op?: unknown; status?: unknown; id?: unknown }[]) : [];
      expect(answer.status === 200 && item?.op === 'upsert' && item.status === 200 && item.id === account, `200 with one upsert answered 200 for "${account}"`, answer);
      const read = await send('GET', accountPath);
      expect(read.status === 200 && read.body?.version === 3 && read.body?.fields?.tier === 'gold' && read.body?.fields?.plan === 'pro', '200 at version 3 with tier "gold" and plan "pro"', read);
    });
    await step('If-Match on a stale version: 412', async () => {
      const answer = await send('POST', '/models/account/records', { json: { name: account, plan: 'basic' }, headers: { 'If-Match': '"1"' } });
      expect(answer.status === 412 && answer.body?.error?.code === 'precondition_failed', '412 precondition_failed', answer);
    });
    await step('list the models', async () => {
      const answer = await send('GET', '/models');
      const names = Array.isArray(answer.body?.models) ? (answer.body.models as { name?: unknown }[]).map((model) => model?.name) : [];
      expect(answer.status === 200 && names.includes('account') && names.includes('customer'), '200 listing the account and customer models', answer);
    });
    await step('delete both', async () => {
      const customer = await send('DELETE', customerPath);
      expect(deleted(customer), '204 for the customer', customer);
      const accountAnswer = await send('DELETE', accountPath);
      expect(deleted(accountAnswer), '204 for the account', accountAnswer);
    });
    await step('confirm both are gone', async () => {
      const customer = await send('GET', customerPath);
      expect(customer.status === 404, '404 for the customer', customer);
      const accountAnswer = await send('GET', accountPath);
      expect(accountAnswer.status === 404, '404 for the account', accountAnswer);
    });
  } catch (error) {
    if (!(error instanceof StepFailure)) unexpected = error;
  }
  const passed = steps.length === scenarioStepCount && steps.every((s) => s.ok);
  // Clean up whatever a failed run may have left behind, whatever stopped it; a 404 means there was nothing left. A run
  // that passed has confirmed both records gone in its last step, so it sends nothing more.
  const leftovers: string[] = [];
  const candidates = [['customer', `customer ${email}`, customerPath], ['account', `account ${account}`, accountPath]] as const;
  for (const [, what, path] of passed ? [] : candidates.filter(([record]) => mayExist.has(record))) {
    try {
      const answer = await send('DELETE', path, { cleanup: true });
      if (answer.status !== 204 && answer.status !== 404) leftovers.push(`${what} (DELETE answered ${answer.status})`);
    } catch (error) {
      leftovers.push(`${what} (DELETE failed: ${(error as Error).message})`);
    }
  }
  if (unexpected !== undefined) throw unexpected;
  return { runId, ok: passed, interrupted: options.signal?.aborted === true, steps, leftovers };
}
