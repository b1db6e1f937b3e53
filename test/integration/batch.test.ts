/** SPEC section 4, batch: one result per item, upserts then deletes, each in request order; one bad item hides nothing. */
import { authorizedPostEvent } from '../../lib/bench/upsert-event.js';
import { call, devStack, errorCode, unique, workspaceWithKey } from '../support/api-client.js';
import { runScript } from '../support/script-process.js';

describe('batch', () => {
  let token: string;
  beforeAll(async () => {
    ({ token } = await workspaceWithKey(['records:read', 'records:write']));
  });
  const batch = (model: string, json: unknown) => call('POST', `/models/${model}/batch`, { json, token });

  it('answers each item in order, with good and bad items mixed', async () => {
    await call('POST', '/models/customer/records', { json: { email: 'old@x.io', title: 'old' }, token });
    const response = await batch('customer', {
      records: [
        { email: 'new@x.io', account: 'Acme' },
        { email: 'not-an-email' },
        { email: 'old@x.io', title: 'updated' },
        { title: 'no email' },
        'not an object',
        { email: 'old@x.io', title: 'updated' },
        { email: ' X@X.IO ', _bad: 1 },
      ],
      // A delete's answer names the id as normalized, a 404's too, as an upsert's does; an id no record can have, as sent.
      delete: [' GONE@X.IO ', 'old@x.io', 42, 'Not An Email'],
    });
    expect(response.status).toBe(200);
    expect(response.body.results).toEqual([
      { op: 'upsert', index: 0, status: 201, id: 'new@x.io' },
      { op: 'upsert', index: 1, status: 422, id: 'not-an-email', error: { code: 'validation_failed', message: expect.any(String), details: [{ field: 'email', issue: expect.any(String) }] } },
      { op: 'upsert', index: 2, status: 200, id: 'old@x.io' },
      { op: 'upsert', index: 3, status: 422, error: { code: 'missing_unique_field', message: expect.any(String), details: [{ field: 'email', issue: 'is required' }] } },
      { op: 'upsert', index: 4, status: 422, error: expect.objectContaining({ code: 'validation_failed' }) },
      { op: 'upsert', index: 5, status: 200, id: 'old@x.io' },
      { op: 'upsert', index: 6, status: 422, id: 'x@x.io', error: expect.objectContaining({ code: 'validation_failed' }) },
      { op: 'delete', index: 0, status: 404, id: 'gone@x.io', error: expect.objectContaining({ code: 'record_not_found' }) },
      { op: 'delete', index: 1, status: 204, id: 'old@x.io' },
      { op: 'delete', index: 2, status: 422, error: expect.objectContaining({ code: 'validation_failed' }) },
      { op: 'delete', index: 3, status: 404, id: 'Not An Email', error: expect.objectContaining({ code: 'record_not_found', details: [{ field: 'id', issue: 'must be an e-mail address' }] }) },
    ]);
    expect((await call('GET', '/models/customer/records/new@x.io', { token })).body.links.account).toEqual({ id: 'Acme', exists: false });
    expect((await call('GET', '/models/customer/records/old@x.io', { token })).status).toBe(404);
    expect((await call('GET', '/models/customer/records/x@x.io', { token })).status).toBe(404);
  });

  it('deletes one record named in several spellings in request order: the first deletes it, the others find nothing', async () => {
    expect((await batch('customer', { records: [{ email: 'spelled@x.io' }] })).body.results[0].status).toBe(201);
    // E-mail ids match case-insensitively, so these name one record; in request order, only the first finds it.
    const spellings = ['SPELLED@x.io', ' spelled@X.IO ', 'spelled@x.io', 'Spelled@x.io'];
    const response = await batch('customer', { delete: spellings });
    expect(response.body.results.map((r: { status: number; id: string }) => [r.status, r.id])).toEqual([
      [204, 'spelled@x.io'],
      [404, 'spelled@x.io'],
      [404, 'spelled@x.io'],
      [404, 'spelled@x.io'],
    ]);
  });

  it('applies several upserts of one record in request order, each change counted once', async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ name: 'Same Co', step: i, [`f${i}`]: i }));
    const response = await batch('account', { records });
    expect(response.body.results.map((r: { status: number }) => r.status)).toEqual([201, ...Array<number>(29).fill(200)]);
    const read = await call('GET', '/models/account/records/Same Co', { token });
    expect(read.body.version).toBe(30);
    expect(read.body.fields.step).toBe(29);
    for (let i = 0; i < 30; i += 1) expect(read.body.fields[`f${i}`]).toBe(i);
  });

  it("runs a record's later items after one of its items was refused: a refusal changed nothing and asks for no retry", async () => {
    // The second item would make the stored record larger than DynamoDB's 400 KB (413), which only the merge with the first shows.
    const records = [{ name: 'Refused Co', a: 'x'.repeat(250_000) }, { name: 'Refused Co', b: 'y'.repeat(250_000) }, { name: 'Refused Co', c: 1 }];
    const response = await batch('account', { records, delete: ['Refused Co'] });
    expect(response.body.results.map((r: { status: number; error?: { code: string } }) => [r.status, r.error?.code])).toEqual([
      [201, undefined],
      [413, 'record_too_large'],
      [200, undefined],
      [204, undefined],
    ]);
    expect((await call('GET', '/models/account/records/Refused Co', { token })).status).toBe(404);
  });

  it('writes an identical repeat as no change, and a change as one new version', async () => {
    const records = [{ name: 'Repeat Co', size: 5 }];
    expect((await batch('account', { records })).body.results[0].status).toBe(201);
    expect((await batch('account', { records })).body.results[0].status).toBe(200);
    let read = await call('GET', '/models/account/records/Repeat Co', { token });
    expect(read.body.version).toBe(1);
    expect((await batch('account', { records: [{ name: 'Repeat Co', size: 6 }] })).body.results[0].status).toBe(200);
    read = await call('GET', '/models/account/records/Repeat Co', { token });
    expect(read.body.version).toBe(2);
    expect(read.body.fields.size).toBe(6);
  });

  it('takes 1,000 items and refuses 1,001 as a whole', async () => {
    const thousand = await batch('account', { records: Array.from({ length: 600 }, (_, i) => ({ name: `k-${i}` })), delete: Array.from({ length: 400 }, (_, i) => `k-${i}`) });
    expect(thousand.status).toBe(200);
    expect(thousand.body.results).toHaveLength(1000);
    expect(thousand.body.results.filter((r: { op: string; status: number }) => r.op === 'delete' && r.status === 204)).toHaveLength(400);
    const tooMany = await batch('account', { records: Array.from({ length: 1001 }, (_, i) => ({ name: `t-${i}` })) });
    expect(tooMany.status).toBe(422);
    expect((await call('GET', '/models/account/records/t-0', { token })).status).toBe(404);
  });

  it.each([
    // SPEC: a body that is not an object is malformed (400), like JSON that does not parse.
    ['an array', [{ name: 'x' }], 400, 'malformed_body'],
    ['an empty batch', { records: [], delete: [] }, 422, 'validation_failed'],
    ['records that are not an array', { records: { name: 'x' } }, 422, 'validation_failed'],
    ['an unknown property', { records: [{ name: 'x' }], upsert: [] }, 422, 'validation_failed'],
  ])('refuses %s as a whole', async (_label, body, status, code) => {
    const response = await batch('account', body);
    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(response.body.results).toBeUndefined();
  });

  it('answers a batch whose refusals would say more than 6 MB, each item with its result and the first details', async () => {
    // A CRM export's system columns: 1,000 rows, each with 50 fields the API refuses (a leading underscore).
    const exported = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`_sf_custom_field_with_a_long_name_${String(i).padStart(2, '0')}`, 'x']));
    const records = Array.from({ length: 1000 }, (_, i) => ({ name: `export-${i}`, ...exported }));
    const response = await call('POST', '/models/account/batch', { json: { records }, token });
    expect(response.status).toBe(200);
    expect(Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: {}, body: response.text }))).toBeLessThan(6 * 1024 * 1024);
    expect(response.body.results).toHaveLength(1000);
    for (const [index, item] of response.body.results.entries()) {
      expect([item.index, item.status, item.id, item.error.code, item.error.details.length]).toEqual([index, 422, `export-${index}`, 'validation_failed', 6]);
    }
    expect(response.body.results[0].error.details[5].issue).toBe('45 more issues not shown; send this item alone to see them all');
    // Sent alone, an item names every refused field.
    const alone = await call('POST', '/models/account/records', { json: records[0], token });
    expect([alone.status, alone.body.error.details.length]).toEqual([422, 50]);
  });

  it('refuses a form body with a 415, a body over 4 MB with a 413, and an unknown model with a 404', async () => {
    expect((await call('POST', '/models/account/batch', { form: 'name=x', token })).status).toBe(415);
    const big = await batch('account', { records: Array.from({ length: 5 }, (_, i) => ({ name: `big-${i}`, blob: 'x'.repeat(900 * 1024) })) });
    expect(big.status).toBe(413);
    expect(errorCode(big)).toBe('payload_too_large');
    const unknown = await batch('planet', { records: [{ name: 'x' }] });
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe('model_not_found');
    // Whatever the batch holds, as a single upsert to an unknown model is a 404 whatever its payload.
    for (const body of [{}, { records: 5 }]) {
      const malformed = await batch('planet', body);
      expect([body, malformed.status, errorCode(malformed)]).toEqual([body, 404, 'model_not_found']);
    }
  });
});

describe('the batch function', () => {
  it('counts the items it ran in its BatchItems metric', async () => {
    // Its own process, as on a stage, with metrics on (the local stack turns them off) against the shared stack's table.
    const { workspace } = await workspaceWithKey(['records:write']);
    const { tableName, dynamodbEndpoint } = devStack();
    const json = { records: [{ name: unique('counted') }, { name: unique('counted') }], delete: [unique('gone')] };
    const event = authorizedPostEvent({ resource: '/models/{model}/batch', model: 'account', json, requestId: unique('batch'), workspace, scopes: 'records:write' });
    const run = await runScript('test/support/invoke-function.ts', ['functions/batch-records.ts'], {
      env: { TABLE_NAME: tableName, IDEMPOTENCY_TABLE_NAME: `${tableName}-idempotency`, DYNAMODB_ENDPOINT: dynamodbEndpoint, POWERTOOLS_METRICS_DISABLED: 'false', GATHER_EVENT: JSON.stringify(event) },
    });
    const lines = run.stdout.split('\n').filter((line) => line.startsWith('{'));
    expect((JSON.parse(lines.at(-1)!) as { statusCode: number }).statusCode).toBe(200);
    const metrics = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => 'BatchItems' in line);
    expect(metrics?.BatchItems).toBe(3);
  });
});
