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
    expect(sleeps[2]!).toBeGreaterThan(sleeps[0]! / 2);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(30_000);
  });

  it('splits a batch the API finds too large, and renumbers the second half', async () => {
    const { fetch, bodies } = fakeFetch([{ status: 413 }, ok(2), ok(1)]);
    const results = await sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined });
    expect(bodies.map((b) => (b as { records: unknown[] }).records.length)).toEqual([3, 2, 1]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
  });

  it('fails at once on a refusal that retrying cannot mend', async () => {
    const { fetch } = fakeFetch([{ status: 401, body: { error: { code: 'unauthorized', message: 'bad key' } } }]);
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined })).rejects.toThrow(
      new FatalImportError('The API refused the batch with 401: bad key'),
    );
  });

  it('gives up after the last attempt', async () => {
    const { fetch } = fakeFetch(Array.from({ length: 3 }, () => ({ status: 503 })));
    await expect(sendBatch(records, { baseUrl: 'http://api', token: 't', model: 'account', fetch, sleep: async () => undefined, maxAttempts: 3 })).rejects.toThrow(/Gave up after 3 attempts/);
  });
});
