/** The importer's sender: retries 429/503 after Retry-After with backoff, splits on 413, stops on other refusals. */
import { FatalImportError, sendBatch } from '../../lib/import/batch-sender.js';

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | Error;

function fakeFetch(answers: Answer[]) {
  const bodies: unknown[] = [];
  const keys: string[] = [];
  const fetch = (async (_url: string, init: { body: string; headers: Record<string, string> }) => {
    bodies.push(JSON.parse(init.body));
    keys.push(init.headers['Idempotency-Key']!);
    const answer = answers.shift();
    if (!answer) throw new Error('no more answers');
    if (answer instanceof Error) throw answer;
    return new Response(JSON.stringify(answer.body ?? {}), { status: answer.status, headers: answer.headers ?? {} });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, bodies, keys };
}

const ok = (n: number, offset = 0) => ({ status: 200, body: { results: Array.from({ length: n }, (_, i) => ({ op: 'upsert', index: i, status: 201, id: `r${i + offset}` })) } });

describe('sendBatch', () => {
  const records = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];

  it('honours Retry-After on 429 and 503, then returns the results', async () => {
    const sleeps: number[] = [];
    const { fetch, bodies } = fakeFetch([{ status: 429, headers: { 'Retry-After': '2' } }, { status: 503, headers: { 'Retry-After': '1' } }, ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) }, 'batch-key');
    expect(results).toHaveLength(3);
    expect(bodies).toHaveLength(3);
    expect(sleeps[0]).toBeGreaterThanOrEqual(2000);
    expect(sleeps[1]).toBeGreaterThanOrEqual(1000);
  });

  it("waits the pause a partial answer's Retry-After asks for before sending its 503 items again", async () => {
    const sleeps: number[] = [];
    const partial = {
      status: 200,
      headers: { 'Retry-After': '3' },
      body: { results: [{ op: 'upsert', index: 0, status: 201, id: 'r0' }, { op: 'upsert', index: 1, status: 503, id: 'r1', error: { code: 'unavailable', message: 'throttled' } }, { op: 'upsert', index: 2, status: 201, id: 'r2' }] },
    };
    const { fetch, bodies } = fakeFetch([partial, ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) }, 'batch-key');
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(bodies).toHaveLength(2);
    // The first backoff alone is at most 250 ms.
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(3000);
  });

  it('backs off exponentially without Retry-After, and retries network failures', async () => {
    const sleeps: number[] = [];
    const { fetch } = fakeFetch([new Error('ECONNRESET'), { status: 502 }, { status: 503 }, ok(3)]);
    await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) }, 'batch-key');
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
    await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxDelayMs: 1000, sleep: async (ms) => void sleeps.push(ms) }, 'batch-key');
    expect(sleeps).toHaveLength(8);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(1000);
    expect(sleeps.slice(3).every((ms) => ms >= 500)).toBe(true);
  });

  it('keeps a batch answered 429 (rate limited, nothing written) waiting without spending its attempts', async () => {
    const sleeps: number[] = [];
    // More 429s in a row than maxAttempts: with several batches in flight against a rate limit, this is what one sees.
    const { fetch, bodies } = fakeFetch([...Array.from({ length: 25 }, () => ({ status: 429, headers: { 'Retry-After': '1' } })), ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxAttempts: 10, sleep: async (ms) => void sleeps.push(ms) }, 'batch-key');
    expect(results).toHaveLength(3);
    expect(bodies).toHaveLength(26);
    // One wait per 429, each at least its Retry-After.
    expect(sleeps).toHaveLength(25);
    expect(Math.min(...sleeps)).toBeGreaterThanOrEqual(1000);
  });

  it('gives up on 429s only after waiting maxRateLimitedMs in a row, saying what to do', async () => {
    let waited = 0;
    const { fetch } = fakeFetch(Array.from({ length: 1000 }, () => ({ status: 429, headers: { 'Retry-After': '1' } })));
    await expect(
      sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxRateLimitedMs: 60_000, sleep: async (ms) => void (waited += ms) }, 'batch-key'),
    ).rejects.toThrow(/429 \(rate limited\) for \d+ s in a row; lower --concurrency/);
    expect(waited).toBeGreaterThanOrEqual(60_000);
    expect(waited).toBeLessThan(60_000 + 30_000 + 1);
  });

  it('spends attempts on 503s and network failures only: 429s before them leave the attempts whole', async () => {
    const { fetch, bodies } = fakeFetch([{ status: 429 }, { status: 429 }, { status: 429 }, { status: 503 }, new Error('ECONNRESET'), ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxAttempts: 3, sleep: async () => undefined }, 'batch-key');
    expect(results).toHaveLength(3);
    expect(bodies).toHaveLength(6);
    const { fetch: failing } = fakeFetch([{ status: 429 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch: failing, maxAttempts: 3, sleep: async () => undefined }, 'batch-key')).rejects.toThrow(
      'Gave up after 3 attempts; the last answer was 503',
    );
  });

  it('backs off from each kind of answer on its own count: a 503 after many 429s waits as a first failure', async () => {
    const sleeps: number[] = [];
    const { fetch } = fakeFetch([...Array.from({ length: 12 }, () => ({ status: 429 })), { status: 503 }, ok(3)]);
    await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) }, 'batch-key');
    expect(sleeps).toHaveLength(13);
    // The 503's wait is the first failure's (125 to 250 ms), not the thirteenth's.
    expect(sleeps[12]).toBeLessThanOrEqual(250);
  });

  it('ends a run of 429s even with no backoff at all', async () => {
    const { fetch } = fakeFetch(Array.from({ length: 100_000 }, () => ({ status: 429 })));
    await expect(
      sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, maxDelayMs: 0, maxRateLimitedMs: 10_000, sleep: async () => undefined }, 'batch-key'),
    ).rejects.toThrow(/429 \(rate limited\)/);
  });

  it('splits a batch the API finds too large, and renumbers the second half', async () => {
    const { fetch, bodies } = fakeFetch([{ status: 413 }, ok(2), ok(1)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key');
    expect(bodies.map((b) => (b as { records: unknown[] }).records.length)).toEqual([3, 2, 1]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
  });

  it('answers a single row too large for a batch with its own 413, for the rejects file, instead of stopping', async () => {
    const { fetch, bodies } = fakeFetch([{ status: 413 }, { status: 413, body: { error: { code: 'payload_too_large', message: 'over 4 MB' } } }, ok(1)]);
    const results = await sendBatch(records.slice(0, 2), { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key');
    expect(bodies.map((b) => (b as { records: unknown[] }).records.length)).toEqual([2, 1, 1]);
    expect(results.map((r) => [r.index, r.status, r.error?.code])).toEqual([[0, 413, 'payload_too_large'], [1, 201, undefined]]);
  });

  it('fails at once on a refusal that retrying cannot mend', async () => {
    const { fetch } = fakeFetch([{ status: 401, body: { error: { code: 'unauthorized', message: 'bad key' } } }]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key')).rejects.toThrow(
      new FatalImportError('The API refused the batch with 401: bad key'),
    );
  });

  const answer = (statuses: number[]) => ({
    status: 200,
    body: { results: statuses.map((status, index) => ({ op: 'upsert', index, status, ...(status >= 500 ? { error: { code: 'unavailable', message: 'send it again' } } : { id: `r${index}` }) })) },
  });

  it('sends the batch again, under the same Idempotency-Key, while items are answered 503 inside a 200; the API answers the others as before', async () => {
    const sleeps: number[] = [];
    // The API continues a batch resent with its key (docs/api.md): it runs only the items left and answers the others
    // as it first did, so the second answer holds every item.
    const { fetch, bodies, keys } = fakeFetch([answer([201, 503, 200]), answer([201, 201, 200])]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async (ms) => void sleeps.push(ms) }, 'batch-key');
    expect(bodies).toEqual([{ records }, { records }]);
    expect(keys).toEqual(['batch-key', 'batch-key']);
    expect(results.map((r) => [r.index, r.status])).toEqual([[0, 201], [1, 201], [2, 200]]);
    expect(sleeps).toHaveLength(1);
  });

  it('sends a batch whose answer was lost again under its key, so the API answers it as it was instead of writing its rows again', async () => {
    const { fetch, bodies, keys } = fakeFetch([new Error('ECONNRESET'), { status: 409, body: { error: { code: 'request_in_progress', message: 'still running' } }, headers: { 'Retry-After': '1' } }, ok(3)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key');
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(bodies).toHaveLength(3);
    expect(new Set(keys)).toEqual(new Set(['batch-key']));
  });

  it('gives each half of a batch too large a key of its own, the same on every send', async () => {
    const { fetch, keys } = fakeFetch([{ status: 413 }, ok(2), ok(1)]);
    await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key');
    expect(keys).toEqual(['batch-key', 'batch-key.1', 'batch-key.2']);
  });

  it('does not send again an item answered 500 (a defect that would answer the same): it is the caller\'s to reject', async () => {
    const { fetch, bodies } = fakeFetch([answer([201, 500, 201])]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key');
    expect(bodies).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual([201, 500, 201]);
  });

  it('spends no attempt on a send that wrote some of the items left: a slow API that makes progress is waited out', async () => {
    // Five items throttled at first; each send writes one more, over more sends than maxAttempts allows.
    const rows = Array.from({ length: 6 }, (_, i) => ({ name: `r${i}` }));
    const answers = [0, 1, 2, 3, 4, 5].map((done) => answer(rows.map((_, i) => (i === 0 || i <= done ? 201 : 503))));
    const { fetch, bodies } = fakeFetch(answers);
    const results = await sendBatch(rows, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined, maxAttempts: 3 }, 'batch-key');
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(bodies).toHaveLength(6);
  });

  it('stops the import when sends in a row write none of the items left, so --resume sends the batch again', async () => {
    const { fetch, bodies } = fakeFetch(Array.from({ length: 4 }, () => answer([201, 503, 201])));
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined, maxAttempts: 3 }, 'batch-key')).rejects.toThrow(
      new FatalImportError('Gave up after 3 sends in a row that wrote none of the items left: 1 item still answered 503 unavailable'),
    );
    // The first send, then three that wrote nothing more.
    expect(bodies).toHaveLength(4);
  });

  it('counts progress against the fewest items ever left, so items left that come and go cannot keep it going', async () => {
    const { fetch, bodies } = fakeFetch([answer([201, 503, 503]), answer([201, 201, 503]), answer([201, 503, 503]), answer([201, 201, 503]), answer([201, 503, 503])]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined, maxAttempts: 3 }, 'batch-key')).rejects.toThrow(/Gave up after 3 sends/);
    expect(bodies).toHaveLength(5);
  });

  it('keeps the first answer that wrote an item: a row created on the first send counts as created when a later send ran it again', async () => {
    // The API could not remember the first answer, so the second send ran every item again.
    const { fetch } = fakeFetch([answer([201, 503, 201]), answer([200, 201, 200])]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key');
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
  });

  it('finishes the first half of a batch too large, its retries included, before it sends the second', async () => {
    // A record's row in the first half, throttled once, must not be written after its later row in the second half.
    const { fetch, keys } = fakeFetch([{ status: 413 }, answer([503, 201]), answer([201, 201]), ok(1)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key');
    expect(keys).toEqual(['batch-key', 'batch-key.1', 'batch-key.1', 'batch-key.2']);
    expect(results.map((r) => [r.index, r.status])).toEqual([[0, 201], [1, 201], [2, 201]]);
  });

  it('says plainly when the API holds the batch\'s key for another request', async () => {
    const { fetch } = fakeFetch([{ status: 422, body: { error: { code: 'idempotency_key_reused', message: 'used for a different request' } } }]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined }, 'batch-key')).rejects.toThrow(
      /holds this batch's Idempotency-Key \(batch-key\) for another request/,
    );
  });

  it('gives up after the last attempt', async () => {
    const { fetch } = fakeFetch(Array.from({ length: 3 }, () => ({ status: 503 })));
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined, maxAttempts: 3 }, 'batch-key')).rejects.toThrow(/Gave up after 3 attempts/);
  });
});
