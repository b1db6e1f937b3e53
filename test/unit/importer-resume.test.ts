/**
 * The importer counts a row, and writes its reject, only once the acknowledged prefix reaches it, so rows answered
 * out of order and sent again by --resume are never counted twice. The API is faked here (no database involved).
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatalImportError } from '../../lib/import/batch-sender.js';
import { resumableRows, runImport, stateFileOf } from '../../lib/import/importer.js';

/** `keys`, when given, gets each batch's Idempotency-Key by the name of its first row. */
function fakeApi(failFirstBatch: boolean, keys?: Map<string, string>) {
  let batchNumber = 0;
  let othersAnswered = () => undefined as void;
  const othersDone = new Promise<void>((resolve) => (othersAnswered = resolve));
  return (async (url: string, init?: { body?: string; headers?: Record<string, string> }) => {
    if (url.endsWith('/models/account')) return new Response(JSON.stringify({ unique_field: 'name', fields: { name: { type: 'string' } } }), { status: 200 });
    const records = (JSON.parse(init!.body!) as { records: { name: string }[] }).records;
    keys?.set(records[0]!.name, init!.headers!['Idempotency-Key']!);
    const mine = batchNumber++;
    if (failFirstBatch && mine === 0) {
      // The first batch answers last, once the other three have their answers and the importer has taken them in,
      // and then with a refusal that stops the import.
      await othersDone;
      await new Promise((r) => setImmediate(r));
      return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'stop here' } }), { status: 401 });
    }
    const results = records.map((r, index) =>
      r.name.startsWith('bad') ? { op: 'upsert', index, status: 422, error: { code: 'validation_failed', message: 'bad' } } : { op: 'upsert', index, status: 201, id: r.name },
    );
    if (batchNumber === 4 && mine === 3) othersAnswered();
    return new Response(JSON.stringify({ results }), { status: 200 });
  }) as unknown as typeof fetch;
}

describe('importer --resume', () => {
  it('counts every row once and writes every reject once across an interrupted import and its resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-resume-'));
    const file = join(dir, 'rows.csv');
    const rejects = `${file}.rejects.jsonl`;
    writeFileSync(file, `name\n${Array.from({ length: 40 }, (_, i) => (i % 10 === 9 ? `bad-${i}` : `row-${i}`)).join('\n')}\n`);
    const common = { file, format: 'csv' as const, model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: rejects, batchSize: 10, concurrency: 4 };

    const firstKeys = new Map<string, string>();
    await expect(runImport({ ...common, resume: false, sender: { fetch: fakeApi(true, firstKeys), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    const state = JSON.parse(readFileSync(stateFileOf(file), 'utf8'));
    // Batches 2 to 4 were answered, but batch 1 was not: nothing is acknowledged, nothing counted, nothing rejected.
    expect([state.acknowledged, state.created, state.rejected]).toEqual([0, 0, 0]);
    expect(readFileSync(rejects, 'utf8')).toBe('');

    const resumedKeys = new Map<string, string>();
    const summary = await runImport({ ...common, resume: true, sender: { fetch: fakeApi(false, resumedKeys), sleep: async () => undefined } });
    expect([summary.total, summary.created, summary.updated, summary.rejected]).toEqual([40, 36, 0, 4]);
    // The resumed run sent each batch under the key the interrupted run had sent it with, so the API answers a batch
    // it already ran (or is still running) as it was instead of writing its rows again; the keys differ batch by batch.
    expect(resumedKeys).toEqual(firstKeys);
    expect(new Set(firstKeys.values()).size).toBe(4);
    // Another run of the file (not --resume) is another run: its batches run again.
    const again = new Map<string, string>();
    await runImport({ ...common, resume: false, sender: { fetch: fakeApi(false, again), sleep: async () => undefined } });
    expect([...again.values()].some((key) => [...firstKeys.values()].includes(key))).toBe(false);
    expect(readFileSync(rejects, 'utf8').trim().split('\n')).toHaveLength(4);
  });
});

describe('importer --resume, its batches', () => {
  it("cuts the interrupted run's batches, of its size, and refuses another --batch-size rather than send other requests", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-resume-size-'));
    const file = join(dir, 'rows.csv');
    writeFileSync(file, `name\n${Array.from({ length: 40 }, (_, i) => `row-${i}`).join('\n')}\n`);
    const common = { file, format: 'csv' as const, model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: `${file}.rejects.jsonl`, concurrency: 4 };
    const firstKeys = new Map<string, string>();
    await expect(runImport({ ...common, batchSize: 10, resume: false, sender: { fetch: fakeApi(true, firstKeys), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    await expect(runImport({ ...common, batchSize: 20, resume: true, sender: { fetch: fakeApi(false), sleep: async () => undefined } })).rejects.toThrow(
      'The interrupted import sent batches of 10 rows; resume it with --batch-size 10, or without --batch-size',
    );
    const resumedKeys = new Map<string, string>();
    await runImport({ ...common, resume: true, sender: { fetch: fakeApi(false, resumedKeys), sleep: async () => undefined } });
    expect(resumedKeys).toEqual(firstKeys);
  });
});

describe('importer ordering', () => {
  it("writes two rows of one record in different batches in file order, even when the earlier batch answers last", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-order-'));
    const file = join(dir, 'rows.csv');
    // Batches of 2: rows 0-1, 2-3, 4-5. "Acme" is in the first and, as " Acme" (the same id once trimmed, as the API
    // normalizes it), in the third; the first batch is the slow one.
    writeFileSync(file, 'name,title\nAcme,first\nb,x\nc,x\nd,x\n" Acme",second\ne,x\n');
    const stored = new Map<string, string>();
    let batchNumber = 0;
    let firstOut = false;
    const arrivedWhileFirstOut: number[] = [];
    let secondAnswered = () => undefined as void;
    const secondDone = new Promise<void>((resolve) => (secondAnswered = resolve));
    const fetch = (async (url: string, init?: { body?: string }) => {
      if (url.endsWith('/models/account')) return new Response(JSON.stringify({ unique_field: 'name', fields: { name: { type: 'string' } } }), { status: 200 });
      const records = (JSON.parse(init!.body!) as { records: { name: string; title: string }[] }).records;
      const mine = batchNumber++;
      if (firstOut) arrivedWhileFirstOut.push(mine);
      if (mine === 0) {
        // The first batch answers only once the second has its answer and the importer has had turns enough to send
        // anything else it would send: a third batch that did not wait for the first would arrive meanwhile.
        firstOut = true;
        await secondDone;
        for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r));
        firstOut = false;
      }
      for (const record of records) stored.set(record.name.trim(), record.title);
      if (mine === 1) secondAnswered();
      return new Response(JSON.stringify({ results: records.map((_, index) => ({ op: 'upsert', index, status: 201 })) }), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const common = { file, format: 'csv' as const, model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: `${file}.rejects.jsonl`, batchSize: 2, concurrency: 4, resume: false };
    await runImport({ ...common, sender: { fetch, sleep: async () => undefined } });
    expect(stored.get('Acme')).toBe('second');
    // Only the batch that writes Acme again waited; the one between did not.
    expect(arrivedWhileFirstOut).toEqual([1]);
  });
});


describe('importer state across runs', () => {
  const modelAnswer = () => new Response(JSON.stringify({ unique_field: 'name', fields: { name: { type: 'string' } } }), { status: 200 });
  /** An API that answers batches until `refuseFrom` (a batch number) and refuses from there with `status`. */
  function api(refuseFrom: number, status = 401) {
    let batchNumber = 0;
    return (async (url: string, init?: { body?: string }) => {
      if (url.endsWith('/models/account')) return modelAnswer();
      if (batchNumber++ >= refuseFrom) return new Response(JSON.stringify({ error: { code: 'forbidden', message: 'no' } }), { status });
      const records = (JSON.parse(init!.body!) as { records: { name: string }[] }).records;
      const results = records.map((r, index) =>
        r.name.startsWith('bad') ? { op: 'upsert', index, status: 422, error: { code: 'validation_failed', message: 'bad' } } : { op: 'upsert', index, status: 201, id: r.name },
      );
      return new Response(JSON.stringify({ results }), { status: 200 });
    }) as unknown as typeof fetch;
  }
  const setUp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-runs-'));
    const file = join(dir, 'rows.csv');
    // 40 rows, every tenth rejected by the API: one reject per batch of 10.
    writeFileSync(file, `name\n${Array.from({ length: 40 }, (_, i) => (i % 10 === 9 ? `bad-${i}` : `row-${i}`)).join('\n')}\n`);
    const rejects = `${file}.rejects.jsonl`;
    const common = { file, format: 'csv' as const, model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: rejects, batchSize: 10, concurrency: 1 };
    const state = () => JSON.parse(readFileSync(stateFileOf(file), 'utf8')) as { acknowledged: number; rejected: number; rejects?: { path: string; bytes: number } };
    const rejectLines = () => readFileSync(rejects, 'utf8').split('\n').filter(Boolean).length;
    return { file, common, state, rejectLines };
  };

  it('keeps an interrupted run resumable through a new run that fails before the API answers, and replaces it with a new run that got answers', async () => {
    const { common, state, rejectLines } = setUp();
    // An interrupted import: two batches answered (20 rows, 2 rejects), then refused.
    await expect(runImport({ ...common, resume: false, sender: { fetch: api(2), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    expect([state().acknowledged, state().rejected, rejectLines()]).toEqual([20, 2, 2]);
    // A new run whose first batch is refused (a key without records:write) changes neither file: --resume still works.
    await expect(runImport({ ...common, resume: false, sender: { fetch: api(0, 403), sleep: async () => undefined } })).rejects.toThrow(/403/);
    expect([state().acknowledged, state().rejected, rejectLines()]).toEqual([20, 2, 2]);
    // A new run that got one batch answered starts both afresh, together: its state and its rejects describe it alone.
    await expect(runImport({ ...common, resume: false, sender: { fetch: api(1), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    expect([state().acknowledged, state().rejected, rejectLines()]).toEqual([10, 1, 1]);
    // Its resume ends with every reject in the file, as many as the summary counts.
    const summary = await runImport({ ...common, resume: true, sender: { fetch: api(99), sleep: async () => undefined } });
    expect([summary.total, summary.created, summary.rejected, rejectLines()]).toEqual([40, 36, 4, 4]);
  });

  it('writes each reject once although a kill came between the rejects file and the state, or between a new state and emptying the file', async () => {
    const { common, state, rejectLines } = setUp();
    await expect(runImport({ ...common, resume: false, sender: { fetch: api(2), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    expect([state().acknowledged, state().rejected, rejectLines()]).toEqual([20, 2, 2]);
    // A kill after the next batch's rejects were appended and before its state was written: lines the state does not count.
    appendFileSync(common.rejectsFile, '{"line":30,"row":{"name":"bad-29"},"status":422,"error":{}}\n');
    let summary = await runImport({ ...common, resume: true, sender: { fetch: api(99), sleep: async () => undefined } });
    expect([summary.rejected, rejectLines()]).toEqual([4, 4]);
    // A new run killed after writing its first state and before emptying the file: the old run's lines are left.
    await expect(runImport({ ...common, resume: false, sender: { fetch: api(2), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    const freshState = { ...state(), acknowledged: 0, created: 0, updated: 0, rejected: 0, rejects: { ...state().rejects, bytes: 0 } };
    writeFileSync(stateFileOf(common.file), JSON.stringify(freshState));
    summary = await runImport({ ...common, resume: true, sender: { fetch: api(99), sleep: async () => undefined } });
    expect([summary.rejected, rejectLines()]).toEqual([4, 4]);
  });

  it('cuts back only the rejects file its state describes: a resume into another file leaves what that file held', async () => {
    const { common, state } = setUp();
    await expect(runImport({ ...common, resume: false, sender: { fetch: api(2), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    expect(state().rejected).toBe(2);
    const other = `${common.rejectsFile}.other`;
    const kept = `${'{"kept":"a line of the operator\'s own"}\n'.repeat(50)}`;
    writeFileSync(other, kept);
    const summary = await runImport({ ...common, rejectsFile: other, resume: true, sender: { fetch: api(99), sleep: async () => undefined } });
    expect(summary.rejected).toBe(4);
    const text = readFileSync(other, 'utf8');
    // What it held, then the resumed run's two rejects.
    expect([text.startsWith(kept), text.slice(kept.length).trim().split('\n')]).toEqual([true, [expect.stringContaining('bad-29'), expect.stringContaining('bad-39')]]);
  });

  it('refuses a second import of a file while one runs, and takes it once that one ends', async () => {
    const { common, rejectLines } = setUp();
    let letGo = () => undefined as void;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let sent = () => undefined as void;
    const firstSent = new Promise<void>((resolve) => (sent = resolve));
    const holding = (async (url: string, init?: RequestInit) => {
      if (!url.endsWith('/models/account')) {
        sent();
        await held;
      }
      return api(99)(url, init);
    }) as unknown as typeof fetch;
    const first = runImport({ ...common, resume: false, sender: { fetch: holding, sleep: async () => undefined } });
    await firstSent;
    await expect(runImport({ ...common, resume: true, sender: { fetch: api(99), sleep: async () => undefined } })).rejects.toThrow(
      new RegExp(`Another import of ${common.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is running \\(pid ${process.pid}\\)`),
    );
    letGo();
    expect((await first).rejected).toBe(4);
    expect(existsSync(`${stateFileOf(common.file)}.lock`)).toBe(false);
    expect((await runImport({ ...common, resume: false, sender: { fetch: api(99), sleep: async () => undefined } })).rejected).toBe(4);
    expect(rejectLines()).toBe(4);
  });

  it('keeps resumable a run whose first batch the API answered only in part, with items it never managed to write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-resume-'));
    const file = join(dir, 'stuck.csv');
    writeFileSync(file, 'name\nok-1\nstuck-2\n');
    const common = { file, format: 'csv' as const, model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: `${file}.rejects.jsonl`, batchSize: 10, concurrency: 1 };
    const keys: string[] = [];
    // The API writes ok-1 and keeps answering stuck-2 503 (its partial answer kept under the batch's key), until it mends.
    const stuckApi = (mended: boolean) =>
      (async (url: string, init?: { body?: string; headers?: Record<string, string> }) => {
        if (url.endsWith('/models/account')) return new Response(JSON.stringify({ unique_field: 'name', fields: { name: { type: 'string' } } }), { status: 200 });
        keys.push(init!.headers!['Idempotency-Key']!);
        const records = (JSON.parse(init!.body!) as { records: { name: string }[] }).records;
        const results = records.map((r, index) =>
          r.name.startsWith('stuck') && !mended ? { op: 'upsert', index, status: 503, error: { code: 'unavailable', message: 'throttled' } } : { op: 'upsert', index, status: 201, id: r.name },
        );
        return new Response(JSON.stringify({ results }), { status: 200 });
      }) as unknown as typeof fetch;
    await expect(runImport({ ...common, resume: false, sender: { fetch: stuckApi(false), sleep: async () => undefined } })).rejects.toThrow(/Gave up after 10 sends/);
    // Nothing acknowledged (the batch never finished), but the run has begun: its state holds the run, so --resume
    // sends the batch under the same key, and the API continues its partial answer.
    expect(JSON.parse(readFileSync(stateFileOf(file), 'utf8')).acknowledged).toBe(0);
    expect(resumableRows(file, 'account', 'csv')).toBe(0);
    const summary = await runImport({ ...common, resume: true, sender: { fetch: stuckApi(true), sleep: async () => undefined } });
    expect([summary.total, summary.created, summary.rejected]).toEqual([2, 2, 0]);
    expect(new Set(keys).size).toBe(1);
    expect(resumableRows(file, 'account', 'csv')).toBeUndefined();
  });

  it('refuses to resume with another format than the interrupted run read the file by', async () => {
    const { common } = setUp();
    await expect(runImport({ ...common, resume: false, sender: { fetch: api(2), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    await expect(runImport({ ...common, format: 'jsonl', resume: true, sender: { fetch: api(99), sleep: async () => undefined } })).rejects.toThrow(
      /read the file as csv; resume it with --format csv/,
    );
  });

  it('waits out a 429 or 503 on the model lookup, as on a batch, and says clearly when the URL answers something that is not a model', async () => {
    const { common } = setUp();
    let lookups = 0;
    const busy = (async (url: string, init?: { body?: string }) => {
      if (url.endsWith('/models/account') && lookups++ < 2) return new Response('{"error":{"code":"rate_limited","message":"slow down"}}', { status: lookups === 1 ? 429 : 503, headers: { 'Retry-After': '1' } });
      return api(99)(url, init as RequestInit);
    }) as unknown as typeof fetch;
    const waits: number[] = [];
    // Each wait is told to the progress display before its bar starts, so that an API answering 503 is not silence.
    const told: (number | string)[] = [];
    const progress = { start: () => undefined, update: () => undefined, retry: (status: number | string) => void told.push(status), stop: () => undefined };
    const summary = await runImport({ ...common, resume: false, progress, sender: { fetch: busy, sleep: async (ms) => void waits.push(ms) } });
    expect([lookups, summary.created]).toEqual([3, 36]);
    // One wait per busy answer, each at least its Retry-After, and none after them.
    expect(waits).toHaveLength(2);
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(1000);
    expect(told.slice(0, 2)).toEqual([429, 503]);

    const notTheApi = (async () => new Response('{"status":"ok"}', { status: 200 })) as unknown as typeof fetch;
    await expect(runImport({ ...common, resume: false, sender: { fetch: notTheApi } })).rejects.toThrow(/answered 200 with something that is not a model definition/);
    const html = (async () => new Response('<html></html>', { status: 200 })) as unknown as typeof fetch;
    await expect(runImport({ ...common, resume: false, sender: { fetch: html } })).rejects.toThrow(/not a model definition/);
  });

  it('sends a field named __proto__ as a field, for the API to refuse, never drops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-proto-'));
    const file = join(dir, 'rows.jsonl');
    writeFileSync(file, '{"name":"p1","__proto__":{"polluted":1}}\n');
    const bodies: string[] = [];
    const fetch = (async (url: string, init?: { body?: string }) => {
      if (url.endsWith('/models/account')) return modelAnswer();
      bodies.push(init!.body!);
      return new Response(JSON.stringify({ results: [{ op: 'upsert', index: 0, status: 422, error: { code: 'validation_failed', message: 'Invalid field: __proto__' } }] }), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const summary = await runImport({ file, format: 'jsonl', model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: `${file}.rejects.jsonl`, resume: false, sender: { fetch } });
    expect(JSON.parse(bodies[0]!).records[0]).toEqual(JSON.parse('{"name":"p1","__proto__":{"polluted":1}}'));
    expect(Object.hasOwn(JSON.parse(bodies[0]!).records[0], '__proto__')).toBe(true);
    expect(summary.rejected).toBe(1);
  });

  it('reads a JSON line holding a bare CR as one row, and refuses a JSON Lines file with no rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-jsonl-'));
    const sent: unknown[] = [];
    const fetch = (async (url: string, init?: { body?: string }) => {
      if (url.endsWith('/models/account')) return modelAnswer();
      const records = (JSON.parse(init!.body!) as { records: unknown[] }).records;
      sent.push(...records);
      return new Response(JSON.stringify({ results: records.map((_, index) => ({ op: 'upsert', index, status: 201 })) }), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const run = (file: string) => runImport({ file, format: 'jsonl', model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: `${file}.rejects.jsonl`, resume: false, sender: { fetch } });
    const cr = join(dir, 'cr.jsonl');
    writeFileSync(cr, '{"name":"cr-1",\r"n":1}\r\n{"name":"cr-2"}');
    const summary = await run(cr);
    expect([summary.total, summary.created, summary.rejected]).toEqual([2, 2, 0]);
    expect(sent).toEqual([{ name: 'cr-1', n: 1 }, { name: 'cr-2' }]);
    for (const text of ['', '\n\n', ' \r\n']) {
      const empty = join(dir, 'empty.jsonl');
      writeFileSync(empty, text);
      await expect(run(empty)).rejects.toThrow(/has no rows: a JSON Lines file holds one JSON object per line/);
    }
  });
});
