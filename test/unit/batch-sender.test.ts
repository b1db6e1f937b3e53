/** The importer's sender: retries 429/503 after Retry-After with backoff, splits on 413, stops on other refusals. */
import { FatalImportError, sendBatch } from '../../lib/import/batch-sender.js';

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | Error;

function fakeFetch(answers: Answer[]) {
  const bodies: unknown[] = [];
  const fetch = (async (_url: string, init: { body: string }) => {
    bodies.push(JSON.parse(init.body));
    const answer = answers.shift();
    if (!answer) throw new Error('no more answers');
    if (answer instanceof Error) throw answer;
    return new Response(JSON.stringify(answer.body ?? {}), { status: answer.status, headers: answer.headers ?? {} });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, bodies };
}

const ok = (n: number, offset = 0) => ({ status: 200, body: { results: Array.from({ length: n }, (_, i) => ({ op: 'upsert', index: i, status: 201, id: `r${i + offset}` })) } });

describe('sendBatch', () => {
  const records = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];

  it('honours Retry-After on 429 and 503, then returns the results', async () => {
    const sleeps: number[] = [];
    const { fetch, bodies } = fakeFetch([{ status: 429, headers: { 'Retry-After': '2' } }, { status: 503, headers: { 'Retry-After': '1' } }, ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) });
    expect(results).toHaveLength(3);
    expect(bodies).toHaveLength(3);
    expect(sleeps[0]).toBeGreaterThanOrEqual(2000);
    expect(sleeps[1]).toBeGreaterThanOrEqual(1000);
  });

  it('backs off exponentially without Retry-After, and retries network failures', async () => {
    const sleeps: number[] = [];
    const { fetch } = fakeFetch([new Error('ECONNRESET'), { status: 502 }, { status: 503 }, ok(3)]);
    await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) });
    expect(sleeps).toHaveLength(3);
    // The n-th wait is 250 ms * 2^n with jitter that takes off at most half: its window doubles with every retry and
    // never overlaps the one before, whatever the jitter draws.
    sleeps.forEach((ms, attempt) => {
      expect(ms).toBeGreaterThanOrEqual(125 * 2 ** attempt);
      expect(ms).toBeLessThanOrEqual(250 * 2 ** attempt);
    });
  });

  it('caps the backoff at maxDelayMs', async () => {
    const sleeps: number[] = [];
    const { fetch } = fakeFetch([...Array.from({ length: 8 }, () => ({ status: 503 })), ok(3)]);
    await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxDelayMs: 1000, sleep: async (ms) => void sleeps.push(ms) });
    expect(sleeps).toHaveLength(8);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(1000);
    expect(sleeps.slice(3).every((ms) => ms >= 500)).toBe(true);
  });

  it('keeps a batch answered 429 (rate limited, nothing written) waiting without spending its attempts', async () => {
    const sleeps: number[] = [];
    // More 429s in a row than maxAttempts: with several batches in flight against a rate limit, this is what one sees.
    const { fetch, bodies } = fakeFetch([...Array.from({ length: 25 }, () => ({ status: 429, headers: { 'Retry-After': '1' } })), ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxAttempts: 10, sleep: async (ms) => void sleeps.push(ms) });
    expect(results).toHaveLength(3);
    expect(bodies).toHaveLength(26);
    expect(sleeps.every((ms) => ms >= 1000)).toBe(true);
  });

  it('gives up on 429s only after waiting maxRateLimitedMs in a row, saying what to do', async () => {
    let waited = 0;
    const { fetch } = fakeFetch(Array.from({ length: 1000 }, () => ({ status: 429, headers: { 'Retry-After': '1' } })));
    await expect(
      sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxRateLimitedMs: 60_000, sleep: async (ms) => void (waited += ms) }),
    ).rejects.toThrow(/429 \(rate limited\) for \d+ s in a row; lower --concurrency/);
    expect(waited).toBeGreaterThanOrEqual(60_000);
    expect(waited).toBeLessThan(60_000 + 30_000 + 1);
  });

  it('spends attempts on 503s and network failures only: 429s before them leave the attempts whole', async () => {
    const { fetch, bodies } = fakeFetch([{ status: 429 }, { status: 429 }, { status: 429 }, { status: 503 }, new Error('ECONNRESET'), ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxAttempts: 3, sleep: async () => undefined });
    expect(results).toHaveLength(3);
    expect(bodies).toHaveLength(6);
    const { fetch: failing } = fakeFetch([{ status: 429 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch: failing, maxAttempts: 3, sleep: async () => undefined })).rejects.toThrow(
      'Gave up after 3 attempts; the last answer was 503',
    );
  });

  it('backs off from each kind of answer on its own count: a 503 after many 429s waits as a first failure', async () => {
    const sleeps: number[] = [];
    const { fetch } = fakeFetch([...Array.from({ length: 12 }, () => ({ status: 429 })), { status: 503 }, ok(3)]);
    await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) });
    expect(sleeps).toHaveLength(13);
    // The 503's wait is the first failure's (125 to 250 ms), not the thirteenth's.
    expect(sleeps[12]).toBeLessThanOrEqual(250);
  });

  it('ends a run of 429s even with no backoff at all', async () => {
    const { fetch } = fakeFetch(Array.from({ length: 100_000 }, () => ({ status: 429 })));
    await expect(
      sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxDelayMs: 0, maxRateLimitedMs: 10_000, sleep: async () => undefined }),
    ).rejects.toThrow(/429 \(rate limited\)/);
  });

  it('splits a batch the API finds too large, and renumbers the second half', async () => {
    const { fetch, bodies } = fakeFetch([{ status: 413 }, ok(2), ok(1)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined });
    expect(bodies.map((b) => (b as { records: unknown[] }).records.length)).toEqual([3, 2, 1]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
  });

  it('answers a single row too large for a batch with its own 413, for the rejects file, instead of stopping', async () => {
    const { fetch, bodies } = fakeFetch([{ status: 413 }, { status: 413, body: { error: { code: 'payload_too_large', message: 'over 4 MB' } } }, ok(1)]);
    const results = await sendBatch(records.slice(0, 2), { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined });
    expect(bodies.map((b) => (b as { records: unknown[] }).records.length)).toEqual([2, 1, 1]);
    expect(results.map((r) => [r.index, r.status, r.error?.code])).toEqual([[0, 413, 'payload_too_large'], [1, 201, undefined]]);
  });

  it('fails at once on a refusal that retrying cannot mend', async () => {
    const { fetch } = fakeFetch([{ status: 401, body: { error: { code: 'unauthorized', message: 'bad key' } } }]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined })).rejects.toThrow(
      new FatalImportError('The API refused the batch with 401: bad key'),
    );
  });

  const answer = (statuses: number[]) => ({
    status: 200,
    body: { results: statuses.map((status, index) => ({ op: 'upsert', index, status, ...(status >= 500 ? { error: { code: 'unavailable', message: 'send it again' } } : { id: `r${index}` }) })) },
  });

  it('sends again the items answered 503 inside a 200, and keeps the first answer of the others', async () => {
    const sleeps: number[] = [];
    const { fetch, bodies } = fakeFetch([answer([201, 503, 200]), answer([201])]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) });
    expect(bodies).toEqual([{ records }, { records: [{ name: 'b' }] }]);
    expect(results.map((r) => [r.index, r.status])).toEqual([[0, 201], [1, 201], [2, 200]]);
    expect(sleeps).toHaveLength(1);
  });

  it("sends a failed item again with the later items of the same record, in order, so the file's last row wins", async () => {
    const rows = [{ email: 'A@x.io', title: 'first' }, { email: 'b@x.io' }, { email: 'a@x.io', title: 'second' }, { email: 'c@x.io' }];
    const recordKey = (record: Record<string, unknown>) => String(record.email).toLowerCase();
    // The first row of a@x.io was throttled, the third (the same record) written: both go again, first then third.
    const { fetch, bodies } = fakeFetch([answer([503, 201, 200, 201]), answer([200, 200])]);
    const results = await sendBatch(rows, { baseUrl: 'http://api', token: 't', model: 'customer', fetch, sleep: async () => undefined, recordKey });
    expect(bodies[1]).toEqual({ records: [rows[0], rows[2]] });
    // The third row keeps its first answer; the first row takes the answer it finally got.
    expect(results.map((r) => r.status)).toEqual([200, 201, 200, 201]);
  });

  it('counts a row created on the first try as created, even when writing it again with its record failed once', async () => {
    const rows = [{ email: 'a@x.io', title: 'first' }, { email: 'a@x.io', title: 'second' }];
    const recordKey = (record: Record<string, unknown>) => String(record.email);
    // Row 0 throttled, row 1 created; both go again: row 0 is written, row 1 throttled this time; row 1 goes once more.
    const { fetch, bodies } = fakeFetch([answer([503, 201]), answer([200, 503]), answer([200])]);
    const results = await sendBatch(rows, { baseUrl: 'http://api', token: 't', model: 'customer', fetch, sleep: async () => undefined, recordKey });
    expect(bodies.map((body) => (body as { records: unknown[] }).records)).toEqual([rows, rows, [rows[1]]]);
    expect(results.map((r) => r.status)).toEqual([200, 201]);
  });

  it('does not send again an item answered 500 (a defect that would answer the same): it is the caller\'s to reject', async () => {
    const { fetch, bodies } = fakeFetch([answer([201, 500, 201])]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined });
    expect(bodies).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual([201, 500, 201]);
  });

  it('stops the import when items still fail after the last attempt, so --resume sends the batch again', async () => {
    const { fetch, bodies } = fakeFetch([answer([201, 503, 201]), answer([503]), answer([503])]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined, maxAttempts: 3 })).rejects.toThrow(
      new FatalImportError('Gave up after 3 attempts: 1 items still answered 503 unavailable'),
    );
    expect(bodies).toHaveLength(3);
  });

  it('gives up after the last attempt', async () => {
    const { fetch } = fakeFetch(Array.from({ length: 3 }, () => ({ status: 503 })));
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined, maxAttempts: 3 })).rejects.toThrow(/Gave up after 3 attempts/);
  });
});
