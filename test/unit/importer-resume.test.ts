/**
 * The importer counts a row, and writes its reject, only once the acknowledged prefix reaches it, so rows answered
 * out of order and sent again by --resume are never counted twice. The API is faked here (no database involved).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatalImportError } from '../../lib/import/batch-sender.js';
import { runImport, stateFileOf } from '../../lib/import/importer.js';

function fakeApi(failFirstBatch: boolean) {
  let batchNumber = 0;
  return (async (url: string, init?: { body?: string }) => {
    if (url.endsWith('/models/account')) return new Response(JSON.stringify({ unique_field: 'name', fields: { name: { type: 'string' } } }), { status: 200 });
    const records = (JSON.parse(init!.body!) as { records: { name: string }[] }).records;
    const mine = batchNumber++;
    if (failFirstBatch && mine === 0) {
      // The first batch answers last, and then with a refusal that stops the import.
      await new Promise((r) => setTimeout(r, 100));
      return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'stop here' } }), { status: 401 });
    }
    const results = records.map((r, index) =>
      r.name.startsWith('bad') ? { op: 'upsert', index, status: 422, error: { code: 'validation_failed', message: 'bad' } } : { op: 'upsert', index, status: 201, id: r.name },
    );
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

    await expect(runImport({ ...common, resume: false, sender: { fetch: fakeApi(true), sleep: async () => undefined } })).rejects.toThrow(FatalImportError);
    const state = JSON.parse(readFileSync(stateFileOf(file), 'utf8'));
    // Batches 2 to 4 were answered, but batch 1 was not: nothing is acknowledged, nothing counted, nothing rejected.
    expect([state.acknowledged, state.created, state.rejected]).toEqual([0, 0, 0]);
    expect(readFileSync(rejects, 'utf8')).toBe('');

    const summary = await runImport({ ...common, resume: true, sender: { fetch: fakeApi(false), sleep: async () => undefined } });
    expect([summary.total, summary.created, summary.updated, summary.rejected]).toEqual([40, 36, 0, 4]);
    expect(readFileSync(rejects, 'utf8').trim().split('\n')).toHaveLength(4);
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
    let secondArrived = () => undefined as void;
    const secondHere = new Promise<void>((resolve) => (secondArrived = resolve));
    const fetch = (async (url: string, init?: { body?: string }) => {
      if (url.endsWith('/models/account')) return new Response(JSON.stringify({ unique_field: 'name', fields: { name: { type: 'string' } } }), { status: 200 });
      const records = (JSON.parse(init!.body!) as { records: { name: string; title: string }[] }).records;
      const mine = batchNumber++;
      if (firstOut) arrivedWhileFirstOut.push(mine);
      if (mine === 1) secondArrived();
      if (mine === 0) {
        // The first batch answers only once the second has arrived (and a little later, for a third that would not wait).
        firstOut = true;
        await secondHere;
        await new Promise((r) => setTimeout(r, 50));
        firstOut = false;
      }
      for (const record of records) stored.set(record.name.trim(), record.title);
      return new Response(JSON.stringify({ results: records.map((_, index) => ({ op: 'upsert', index, status: 201 })) }), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const common = { file, format: 'csv' as const, model: 'account', baseUrl: 'http://api', token: 't', rejectsFile: `${file}.rejects.jsonl`, batchSize: 2, concurrency: 4, resume: false };
    await runImport({ ...common, sender: { fetch, sleep: async () => undefined } });
    expect(stored.get('Acme')).toBe('second');
    // Only the batch that writes Acme again waited; the one between did not.
    expect(arrivedWhileFirstOut).toEqual([1]);
  });
});

