/** `npm run import` against the local stack: awkward CSV, JSON Lines, rejects with line numbers, and --resume. */
import { existsSync, linkSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { call, devDataDir, devStack, workspaceWithKey } from '../support/api-client.js';
import { startForwardingProxy } from '../support/forwarding-proxy.js';
import { runScript, type ScriptRun } from '../support/script-process.js';

const importer = (args: string[], onStderr?: (text: string, kill: (signal?: NodeJS.Signals) => void) => void): Promise<ScriptRun> =>
  runScript('lib/import/run-import.ts', ['--base-url', devStack().baseUrl, ...args], onStderr ? { onStderr } : {});

const readRejects = (file: string) =>
  readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { line: number; status: number; error: { code: string; details?: unknown } });

describe('npm run import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gather-import-'));
  let token: string;
  beforeAll(async () => {
    ({ token } = await workspaceWithKey(['records:read', 'records:write', 'models:write']));
  });

  it('imports a CSV with awkward quoting, a BOM and CRLF, and rejects bad rows with their line numbers', async () => {
    const file = join(dir, 'customers.csv');
    const csv = [
      'email,account,title,note,tags',
      'don@sc.com,"Sterling Cooper, Draper","Creative Director","He said ""hi""",',
      '"peggy@sc.com","Sterling Cooper, Draper",Copywriter,"two\r\nlines",x',
      'not-an-email,Acme,Intern,,',
      'pete@sc.com,Acme,"Accounts",,,extra',
      'joan@sc.com,,Office Manager,"Zürich — ünïcode",',
    ].join('\r\n');
    writeFileSync(file, `\uFEFF${csv}\r\n`);
    const run = await importer(['--model', 'customer', '--file', file, '--token', token]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Whole file: 5 rows, 3 created, 0 updated or unchanged, 2 rejected/);
    expect(run.stderr).toMatch(/100% \| 5\/5 rows/);
    const rejects = readRejects(`${file}.rejects.jsonl`);
    expect(rejects.map((r) => [r.line, r.status, r.error.code])).toEqual(
      expect.arrayContaining([
        [5, 422, 'validation_failed'],
        [6, 400, 'malformed_row'],
      ]),
    );
    expect(rejects).toHaveLength(2);
    const don = await call('GET', '/models/customer/records/don@sc.com', { token });
    expect(don.body.fields).toEqual({ email: 'don@sc.com', account: 'Sterling Cooper, Draper', title: 'Creative Director', note: 'He said "hi"' });
    const peggy = await call('GET', '/models/customer/records/peggy@sc.com', { token });
    expect(peggy.body.fields.note).toBe('two\r\nlines');
    expect(peggy.body.fields.tags).toBe('x');
    // An empty cell sends no field.
    const joan = await call('GET', '/models/customer/records/joan@sc.com', { token });
    expect(joan.body.fields).toEqual({ email: 'joan@sc.com', title: 'Office Manager', note: 'Zürich — ünïcode' });
  });

  it('refuses a CSV row whose cells will not take their declared types, naming every such cell, as the API refuses a form', async () => {
    await call('PUT', '/models/plan', { json: { unique_field: 'code', fields: { meta: { type: 'json' }, seats: { type: 'number' } } }, token });
    const file = join(dir, 'plans.csv');
    writeFileSync(file, 'code,meta,seats\np1,"{""tier"":2}",5\np2,{bad,5\np3,hello world,many\np4,null,7\np5,"{""n"":4503599627370497.5}",1\n');
    const run = await importer(['--model', 'plan', '--file', file, '--token', token]);
    expect(run.stdout).toMatch(/Whole file: 5 rows, 2 created, 0 updated or unchanged, 3 rejected/);
    expect(readRejects(`${file}.rejects.jsonl`).map((r) => [r.line, r.status, r.error.code, r.error.details])).toEqual([
      [3, 422, 'validation_failed', [{ field: 'meta', issue: 'must be a JSON document' }]],
      [4, 422, 'validation_failed', [{ field: 'meta', issue: 'must be a JSON document' }, { field: 'seats', issue: 'must be a number' }]],
      // JSON that parses, with a number a double would round to a whole one: the API refuses it, so does the importer.
      [6, 422, 'validation_failed', [{ field: 'meta', issue: expect.stringMatching(/is not a whole number but would be stored as one/) }]],
    ]);
    // What the same cell gets through the API as a form value.
    const form = await call('POST', '/models/plan/records', { form: 'code=f1&meta=%7Bbad', token });
    expect([form.status, form.body.error.details]).toEqual([422, [{ field: 'meta', issue: 'must be a JSON document' }]]);
    expect((await call('GET', '/models/plan/records/p1', { token })).body.fields).toEqual({ code: 'p1', meta: { tier: 2 }, seats: 5 });
    // A json cell `null` removes the field, as a form's does: nothing to store.
    expect((await call('GET', '/models/plan/records/p4', { token })).body.fields).toEqual({ code: 'p4', seats: 7 });
    for (const id of ['p2', 'p3', 'p5']) expect((await call('GET', `/models/plan/records/${id}`, { token })).status).toBe(404);
  });

  it('refuses a row with a value under a column the header does not name, and ignores such a column where it is empty', async () => {
    const file = join(dir, 'unnamed.csv');
    writeFileSync(file, 'email,,name,\nun1@q.io,,A,\nun2@q.io,stray,B,\n');
    const run = await importer(['--model', 'customer', '--file', file, '--token', token]);
    expect(run.stdout).toMatch(/Whole file: 2 rows, 1 created, 0 updated or unchanged, 1 rejected/);
    expect(readRejects(`${file}.rejects.jsonl`).map((r) => [r.line, r.status, r.error.code, (r.error as { message?: string }).message])).toEqual([
      [3, 400, 'malformed_row', 'Line 3 has a value in column 2, which the header does not name'],
    ]);
    expect((await call('GET', '/models/customer/records/un1@q.io', { token })).body.fields).toEqual({ email: 'un1@q.io', name: 'A' });
  });

  it('reads a CSV whose rows end in CRLF, LF and CR mixed, each row on its own line', async () => {
    const file = join(dir, 'mixed-endings.csv');
    // A CRLF header over LF rows read as one row; an LF header over CRLF rows kept a CR in every last cell.
    writeFileSync(file, 'email,name\r\nmix1@q.io,A\nmix2@q.io,B\r\nnot-an-email,C\nmix3@q.io,"D\r\nE"\rmix4@q.io,F\n');
    const run = await importer(['--model', 'customer', '--file', file, '--token', token]);
    expect(run.stdout).toMatch(/Whole file: 5 rows, 4 created, 0 updated or unchanged, 1 rejected/);
    expect(readRejects(`${file}.rejects.jsonl`).map((r) => [r.line, r.error.code])).toEqual([[4, 'validation_failed']]);
    const names = await Promise.all(['mix1', 'mix2', 'mix3', 'mix4'].map(async (id) => (await call('GET', `/models/customer/records/${id}@q.io`, { token })).body.fields.name));
    expect(names).toEqual(['A', 'B', 'D\r\nE', 'F']);
  });

  it('imports JSON Lines into a custom model, CSV strings coerced to the declared types', async () => {
    await call('PUT', '/models/subscription', { json: { unique_field: 'external_id', fields: { price: { type: 'number' }, active: { type: 'boolean' } } }, token });
    const jsonl = join(dir, 'subs.jsonl');
    // A line that is only a number too precise for a double is no object either, not a row with a field of its own.
    writeFileSync(jsonl, ['{"external_id":"s1","price":10,"active":true}', '', '["not an object"]', '{"external_id":"s2","price":"ten"}', '{"external_id":"s3","meta":{"a":[1,2]}}', '4503599627370497.5'].join('\n'));
    const run = await importer(['--model', 'subscription', '--file', jsonl, '--token', token]);
    expect(run.code).toBe(1);
    expect(readRejects(`${jsonl}.rejects.jsonl`).map((r) => [r.line, r.error.code])).toEqual([
      [3, 'malformed_row'],
      [4, 'validation_failed'],
      [6, 'malformed_row'],
    ]);
    expect((await call('GET', '/models/subscription/records/s3', { token })).body.fields.meta).toEqual({ a: [1, 2] });

    const csv = join(dir, 'subs.csv');
    writeFileSync(csv, 'external_id,price,active\ns4,12.5,false\n');
    const csvRun = await importer(['--model', 'subscription', '--file', csv, '--token', token]);
    expect(csvRun.code).toBe(0);
    expect((await call('GET', '/models/subscription/records/s4', { token })).body.fields).toEqual({ external_id: 's4', price: 12.5, active: false });
  });

  it('continues an interrupted import with --resume, without resending what was acknowledged', async () => {
    const file = join(dir, 'accounts.csv');
    const rows = Array.from({ length: 1500 }, (_, i) => `Company ${String(i).padStart(4, '0')},${i}`);
    writeFileSync(file, `name,rank\n${rows.join('\n')}\n`);
    const stateFile = `${file}.import-state.json`;
    const interrupted = await importer(['--model', 'account', '--file', file, '--token', token, '--batch-size', '50', '--concurrency', '1'], (_text, kill) => {
      if (existsSync(stateFile) && JSON.parse(readFileSync(stateFile, 'utf8')).acknowledged >= 300) kill();
    });
    expect(interrupted.code).toBeNull(); // killed
    const acknowledged = JSON.parse(readFileSync(stateFile, 'utf8')).acknowledged as number;
    expect(acknowledged).toBeGreaterThanOrEqual(300);
    expect(acknowledged).toBeLessThan(1500);

    const resumed = await importer(['--model', 'account', '--file', file, '--token', token, '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`Done: ${1500 - acknowledged} rows`);
    expect(resumed.stdout).toContain(`after ${acknowledged} rows acknowledged by an earlier run`); // at least 300: plural
    // A batch in flight when the first run was killed had no answer, so it is sent again; being identical, it
    // changes nothing (the records stay at version 1). At most that one batch (50 rows, concurrency 1) is resent.
    const [, created, updated] = /Whole file: 1500 rows, (\d+) created, (\d+) updated or unchanged, 0 rejected/.exec(resumed.stdout)!;
    expect(Number(created) + Number(updated)).toBe(1500);
    expect(Number(updated)).toBeLessThanOrEqual(50);
    expect(existsSync(stateFile)).toBe(false);
    // Nothing was rejected: no empty rejects file is left behind.
    expect(existsSync(`${file}.rejects.jsonl`)).toBe(false);
    const all = await call('GET', '/models/account/records?limit=1000', { token });
    const next = await call('GET', `/models/account/records?limit=1000&cursor=${all.body.next_cursor}`, { token });
    const names = [...all.body.records, ...next.body.records].map((r: { id: string }) => r.id).filter((id: string) => id.startsWith('Company '));
    expect(new Set(names).size).toBe(1500);
    // Every record was written once: nothing was sent twice with a change.
    expect([...all.body.records, ...next.body.records].every((r: { version: number }) => r.version === 1)).toBe(true);
  }, 120_000);

  it.each([
    ['Ctrl-C (SIGINT)', 'SIGINT', 130, 'Interrupted'],
    ['SIGTERM (timeout, a CI runner)', 'SIGTERM', 143, 'Stopped (SIGTERM)'],
  ] as const)('says on %s how many rows were acknowledged and that --resume goes on from there', async (_what, signal, code, said) => {
    const file = join(dir, `${signal}.csv`);
    writeFileSync(file, `name\n${Array.from({ length: 1500 }, (_, i) => `${signal} ${i}`).join('\n')}\n`);
    const stateFile = `${file}.import-state.json`;
    let signalled = false;
    const run = await importer(['--model', 'account', '--file', file, '--token', token, '--batch-size', '50', '--concurrency', '1'], (_text, kill) => {
      if (!signalled && existsSync(stateFile) && JSON.parse(readFileSync(stateFile, 'utf8')).acknowledged >= 100) {
        signalled = true;
        kill(signal);
      }
    });
    expect(run.code).toBe(code);
    const acknowledged = JSON.parse(readFileSync(stateFile, 'utf8')).acknowledged as number;
    expect(run.stderr).toContain(`${said}. ${acknowledged} rows acknowledged so far are saved: run the same command with --resume`); // at least 100
    const resumed = await importer(['--model', 'account', '--file', file, '--token', token, '--resume']);
    expect([resumed.code, resumed.stdout]).toEqual([0, expect.stringContaining(`Done: ${1500 - acknowledged} rows in`)]);
  });

  it('fails clearly without a resumable state, or with a key it may not use', async () => {
    const file = join(dir, 'none.csv');
    writeFileSync(file, 'name\nx\n');
    const noState = await importer(['--model', 'account', '--file', file, '--token', token, '--resume']);
    expect(noState.code).toBe(2);
    expect(noState.stderr).toContain('Nothing to resume');
    const { token: reader } = await workspaceWithKey(['records:read']);
    const refused = await importer(['--model', 'account', '--file', file, '--token', reader]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refused the batch with 403/);
    // Nothing was acknowledged, so there is nothing to resume: the run says nothing of --resume, nor does a later one
    // that never reaches the API.
    expect(refused.stderr).not.toMatch(/--resume/);
    const unreachable = await importer(['--model', 'account', '--file', file, '--token', token, '--base-url', 'http://127.0.0.1:9']);
    expect([unreachable.code, unreachable.stderr]).toEqual([2, expect.not.stringMatching(/--resume/)]);
  });

  it('refuses flags it cannot honour before sending anything, and offers --resume only when there is something to resume', async () => {
    const file = join(dir, 'flags.csv');
    writeFileSync(file, 'name\nflag-co\n');
    for (const [flags, message] of [
      [['--batch-size', '2000'], /--batch-size.*must be a whole number from 1 to 1000/],
      [['--batch-size', 'abc'], /--batch-size.*must be a whole number from 1 to 1000/],
      [['--concurrency', '0'], /--concurrency.*must be a whole number from 1 to 16/],
      [['--format', 'xml'], /--format must be csv or jsonl, not "xml"/],
      // Commander would keep the last of two, importing into another model than the first one named.
      [['--model', 'customer'], /option '--model' was given more than once/],
      [['--batch-size', '10', '--batch-size=20'], /option '--batch-size' was given more than once/],
      // `--base-url "$URL"` with URL unset: refused, not taken for the local stack, where the rows would go.
      [['--base-url', ''], /option '--base-url <url>' argument '' is invalid\. Give the API's URL, or leave the option out/],
    ] as const) {
      const run = await importer(['--model', 'account', '--file', file, '--token', token, ...flags]);
      expect([flags, run.code]).toEqual([flags, 2]);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/--resume/);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(`${file}.import-state.json`)).toBe(false);
    expect((await call('GET', '/models/account/records/flag-co', { token })).status).toBe(404);
    // An empty CSV (no header row, blank lines at most) is said so, not imported as "0 rows" with success.
    for (const text of ['', '\n\n']) {
      const empty = join(dir, 'empty.csv');
      writeFileSync(empty, text);
      const run = await importer(['--model', 'account', '--file', empty, '--token', token]);
      expect([JSON.stringify(text), run.code, run.stderr]).toEqual([JSON.stringify(text), 2, expect.stringMatching(/empty\.csv is empty: a CSV needs a header row/)]);
    }
    // A .json file is most often an array: said so, not read as CSV; with --format it is read as JSON Lines.
    const array = join(dir, 'rows.json');
    writeFileSync(array, '{"name":"json-co"}\n');
    const refused = await importer(['--model', 'account', '--file', array, '--token', token]);
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringMatching(/is a \.json file: the importer reads CSV or JSON Lines/)]);
    expect((await importer(['--model', 'account', '--file', array, '--token', token, '--format', 'jsonl'])).code).toBe(0);
  });

  it('refuses, row by row, what the API could not store as sent: a number beyond JSON, and a row too large on its own', async () => {
    await call('PUT', '/models/priced', { json: { unique_field: 'sku', fields: { price: { type: 'number' } } }, token });
    await call('POST', '/models/priced/records', { json: { sku: 'p1', price: 9.99 }, token });
    const csv = join(dir, 'priced.csv');
    // 1e400 reads as Infinity, which JSON would carry as null ("remove the field"); the big row is 5 MB, over a batch.
    writeFileSync(csv, `sku,price,note\np1,1e400,\np2,5,${'x'.repeat(5 * 1024 * 1024)}\np3,7,\n`);
    const run = await importer(['--model', 'priced', '--file', csv, '--token', token]);
    expect([run.code, run.stdout]).toEqual([1, expect.stringMatching(/Whole file: 3 rows, 1 created, 0 updated or unchanged, 2 rejected/)]);
    expect(readRejects(`${csv}.rejects.jsonl`).map((r) => [r.line, r.status, r.error.code])).toEqual([
      [2, 422, 'validation_failed'],
      [3, 413, 'payload_too_large'],
    ]);
    expect((await call('GET', '/models/priced/records/p1', { token })).body.fields.price).toBe(9.99);
    expect((await call('GET', '/models/priced/records/p3', { token })).status).toBe(200);

    const jsonl = join(dir, 'priced.jsonl');
    // Beside numbers beyond JSON, one too precise for a double (read as the API reads JSON, not rounded on the way).
    writeFileSync(jsonl, '{"sku":"p1","price":1e400}\n{"sku":"p4","meta":{"n":-1e999}}\n{"sku":"p5","meta":{"n":4503599627370497.5}}\n{"sku":"p6","n":12345678901234567890}\n[1e400]\n');
    const lines = await importer(['--model', 'priced', '--file', jsonl, '--token', token]);
    expect(lines.code).toBe(1);
    expect(readRejects(`${jsonl}.rejects.jsonl`).map((r) => [r.line, r.status])).toEqual([[1, 422], [2, 422], [3, 422], [4, 422], [5, 400]]);
    // Each rejected line's row as the file has it, to mend it by: not as a double would round it.
    const rejectedText = readFileSync(`${jsonl}.rejects.jsonl`, 'utf8');
    for (const written of ['"price":1e400', '"n":-1e999', '"n":4503599627370497.5', '"n":12345678901234567890', '"row":[1e400]']) expect(rejectedText).toContain(written);
    expect((await call('GET', '/models/priced/records/p5', { token })).status).toBe(404);
    expect((await call('GET', '/models/priced/records/p1', { token })).body.fields.price).toBe(9.99);
  });

  it('refuses a file that is not UTF-8, or a CSV header that names a column twice, before sending anything', async () => {
    const latin1 = join(dir, 'latin1.csv');
    writeFileSync(latin1, Buffer.from('name,city\nJ\xfcrgen AG,Berlin\nJ\xf6rgen AG,Oslo\n', 'latin1'));
    const notUtf8 = await importer(['--model', 'account', '--file', latin1, '--token', token]);
    expect(notUtf8.code).toBe(2);
    expect(notUtf8.stderr).toMatch(/is not UTF-8/);
    expect((await call('GET', `/models/account/records/${encodeURIComponent('J\uFFFDrgen AG')}`, { token })).status).toBe(404);

    const twice = join(dir, 'twice.csv');
    writeFileSync(twice, 'name,size,size\nDup Co,first,\n');
    const repeated = await importer(['--model', 'account', '--file', twice, '--token', token]);
    expect(repeated.code).toBe(2);
    expect(repeated.stderr).toMatch(/header names "size" more than once/);
    expect((await call('GET', '/models/account/records/Dup%20Co', { token })).status).toBe(404);

    // Broken quoting: nothing after it can be trusted, so nothing is sent, and the line is named without a stack trace.
    for (const [name, text, said] of [
      ['stray.csv', 'name,size\nA Co,"bad"quote\nB Co,2\n', /is not valid CSV at line 2: /],
      ['unclosed.csv', 'name,size\nA Co,1\nB Co,"open\n', /is not valid CSV: the row that starts after line 2 opens a quote that is never closed/],
      ['opening.csv', 'name,size\nA Co,1\nB Co,x"y\n', /is not valid CSV at line 3: /],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const broken = await importer(['--model', 'account', '--file', file, '--token', token]);
      expect([name, broken.code]).toEqual([name, 2]);
      expect(broken.stderr).toMatch(said);
      expect(broken.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await call('GET', '/models/account/records/A%20Co', { token })).status).toBe(404);
  });

  it('never writes rejects over the file being imported, and keeps the last rejects until an import really starts', async () => {
    const file = join(dir, 'keep.csv');
    const csv = 'name,n\nkeep-a,1\nkeep-b,2,extra\n';
    writeFileSync(file, csv);
    // Also through a hard link: the same file under another name (as another spelling is on a case-insensitive disk).
    const linked = join(dir, 'keep-link.csv');
    linkSync(file, linked);
    for (const rejects of [file, `${file}.import-state.json`, linked]) {
      const run = await importer(['--model', 'account', '--file', file, '--token', token, '--rejects', rejects]);
      expect([rejects, run.code]).toEqual([rejects, 2]);
      expect(run.stderr).toMatch(/is the file being imported or its state file/);
      expect(readFileSync(file, 'utf8')).toBe(csv);
    }
    expect((await importer(['--model', 'account', '--file', file, '--token', token])).code).toBe(1);
    expect(readRejects(`${file}.rejects.jsonl`)).toHaveLength(1);
    // Runs that stop before sending (a wrong model, a wrong key) leave that list of rows to fix alone.
    expect((await importer(['--model', 'nosuch', '--file', file, '--token', token])).code).toBe(2);
    expect((await importer(['--model', 'account', '--file', file, '--token', 'gth_wrong'])).code).toBe(2);
    expect(readRejects(`${file}.rejects.jsonl`)).toHaveLength(1);
    // A rejects file it cannot write is said plainly.
    const unwritable = await importer(['--model', 'account', '--file', file, '--token', token, '--rejects', join(dir, 'no', 'such', 'dir.jsonl')]);
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(/Cannot write the rejects file/);
    expect(unwritable.stderr).not.toMatch(/\n\s+at /);
  });

  it('reads a relative --file from the directory npm run was typed in', async () => {
    const here = mkdtempSync(join(dir, 'cwd-'));
    // One row of two cells is rejected, so a rejects file is written, beside the file.
    writeFileSync(join(here, 'relative.csv'), 'name\nrelative-co\nstray,cell\n');
    const run = await runScript('lib/import/run-import.ts', ['--base-url', devStack().baseUrl, '--token', token, '--model', 'account', '--file', 'relative.csv'], {
      env: { INIT_CWD: here },
    });
    expect(run.code).toBe(1);
    expect(readRejects(join(here, 'relative.csv.rejects.jsonl')).map((r) => r.line)).toEqual([3]);
    expect((await call('GET', '/models/account/records/relative-co', { token })).status).toBe(200);
  });

  it("stops before sending when the CSV header lacks the model's unique field, and takes unnamed trailing columns", async () => {
    const file = join(dir, 'crm.csv');
    writeFileSync(file, 'Email,Name\nann@crm.io,Ann\n');
    const run = await importer(['--model', 'customer', '--file', file, '--token', token]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/The header has no column "email", the unique field of customer/);
    expect((await call('GET', '/models/customer/records/ann@crm.io', { token })).status).toBe(404);
    // A header from another system may hold an escape sequence: the message quotes it without obeying it.
    const hostile = join(dir, 'hostile.csv');
    writeFileSync(hostile, 'e\u001b[2Jmail,Name\nann@crm.io,Ann\n');
    const shown = await importer(['--model', 'customer', '--file', hostile, '--token', token]);
    expect(shown.code).toBe(2);
    expect(shown.stderr).toContain('(it has: e\uFFFD[2Jmail, Name)');
    expect(shown.stderr).not.toContain('\u001b');
    // A spreadsheet's export with two empty columns at the end: no repeated name, and their empty cells send nothing.
    const excel = join(dir, 'excel.csv');
    writeFileSync(excel, 'name,size,,\nexcel-co,10,,\n');
    expect((await importer(['--model', 'account', '--file', excel, '--token', token])).code).toBe(0);
    expect((await call('GET', '/models/account/records/excel-co', { token })).body.fields).toEqual({ name: 'excel-co', size: '10' });
  });

  it('names the row whose quote is never closed, not the end of the file', async () => {
    const file = join(dir, 'unclosed-long.csv');
    writeFileSync(file, ['name,note', 'u1,ok', 'u2,"oops', ...Array.from({ length: 50 }, (_, i) => `u${i + 3},fine`)].join('\n'));
    const run = await importer(['--model', 'account', '--file', file, '--token', token]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/the row that starts after line 2 opens a quote that is never closed/);
  });

  it('never sends the local dev key to another --base-url', async () => {
    const seen: string[] = [];
    const server = createServer((request, response) => {
      seen.push(String(request.headers.authorization));
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const elsewhere = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = join(dir, 'elsewhere.csv');
    writeFileSync(file, 'name\nx\n');
    try {
      for (const script of ['lib/import/run-import.ts', 'lib/smoke/run-smoke.ts']) {
        const args = script.includes('import') ? ['--model', 'account', '--file', file] : [];
        const run = await runScript(script, ['--base-url', elsewhere, ...args], { env: { DATA_DIR: devDataDir(), GATHER_TOKEN: '' } });
        expect([script, run.code]).toEqual([script, 2]);
        expect(run.stderr).toMatch(/give --token/);
      }
      expect(seen).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('sends a batch whose answer was lost again under its Idempotency-Key: answered as it was, its rows not written twice', async () => {
    // Between the importer and the API, a proxy that loses the API's answer to the first batch once the API has sent
    // it: the batch was applied. Sent again as it was, R would pass through x again (versions 3 and 4).
    let lost = false;
    let batchesSent = 0;
    const proxy = await startForwardingProxy(devStack().baseUrl, {
      before: (request) => void (request.url!.endsWith('/batch') && (batchesSent += 1)),
      after: (request) => {
        if (lost || !request.url!.endsWith('/batch')) return undefined;
        lost = true;
        return 'lose';
      },
    });
    const r = `lost-${Date.now()}`;
    const file = join(dir, 'lost-answer.csv');
    writeFileSync(file, `name,a\n${r},x\n${r}-s,1\n${r},y\n`);
    try {
      const run = await runScript('lib/import/run-import.ts', ['--base-url', proxy.url, '--model', 'account', '--file', file, '--token', token]);
      expect([run.code, run.stderr]).toEqual([0, expect.any(String)]);
      // The answer was lost for certain: the importer sent the batch a second time.
      expect([lost, batchesSent]).toEqual([true, 2]);
      expect(run.stdout).toMatch(/3 rows, 2 created, 1 updated or unchanged, 0 rejected/);
    } finally {
      await proxy.close();
    }
    expect((await call('GET', `/models/account/records/${r}`, { token })).body).toMatchObject({ version: 2, fields: { a: 'y' } });
    expect((await call('GET', `/models/account/records/${r}-s`, { token })).body).toMatchObject({ version: 1 });
  });

  it('explains, without a stack trace, a directory given as the file, an API it cannot reach, an unreadable state and dev.json', async () => {
    const file = join(dir, 'plain.csv');
    writeFileSync(file, 'name\nPlain Co\n');
    const noStack = (run: ScriptRun) => expect(run.stderr).not.toMatch(/\n\s+at /);
    const directory = await importer(['--model', 'account', '--file', dir, '--token', token]);
    expect([directory.code, directory.stderr]).toEqual([2, expect.stringMatching(/is not a file/)]);
    noStack(directory);
    const unreachable = await runScript('lib/import/run-import.ts', ['--base-url', 'http://127.0.0.1:1', '--model', 'account', '--file', file, '--token', token]);
    expect([unreachable.code, unreachable.stderr]).toEqual([2, expect.stringMatching(/Cannot reach the API at http:\/\/127\.0\.0\.1:1: /)]);
    noStack(unreachable);
    // A --base-url that is not one: said as such (the check the smoke test shares, lib/local/dev-json.ts apiTarget).
    const notUrl = await runScript('lib/import/run-import.ts', ['--base-url', 'notaurl', '--model', 'account', '--file', file, '--token', token]);
    expect([notUrl.code, notUrl.stderr]).toEqual([2, expect.stringMatching(/--base-url must be an http:\/\/ or https:\/\/ URL; "notaurl" is not one/)]);
    writeFileSync(`${file}.import-state.json`, '{"version":1,');
    const state = await importer(['--model', 'account', '--file', file, '--token', token, '--resume']);
    expect([state.code, state.stderr]).toEqual([2, expect.stringMatching(/cannot be read; start again without --resume/)]);
    noStack(state);
    const dataDir = mkdtempSync(join(tmpdir(), 'gather-devjson-'));
    writeFileSync(join(dataDir, 'dev.json'), '{broken');
    const devJson = await runScript('lib/import/run-import.ts', ['--model', 'account', '--file', file], { env: { DATA_DIR: dataDir } });
    expect([devJson.code, devJson.stderr]).toEqual([2, expect.stringMatching(/is not the local stack's dev.json/)]);
    noStack(devJson);
    // No stack where it looks (one started with another DATA_DIR, say): where it looked, and how to point it there.
    const elsewhere = await runScript('lib/import/run-import.ts', ['--model', 'account', '--file', file], { env: { DATA_DIR: join(dataDir, 'none') } });
    expect([elsewhere.code, elsewhere.stderr.trim()]).toEqual([
      2,
      `error: Nothing to import into: no local stack found (${join(dataDir, 'none', 'dev.json')} does not exist): start it with "npm start"; ` +
        'for one started with another DATA_DIR, run this with the same DATA_DIR; or give --base-url and --token',
    ]);
  });
});
