/** SPEC section 4, upsert semantics: merge, removal, status codes, idempotency, ETag and conditional writes. */
import { request as httpRequest } from 'node:http';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../../lib/store/dynamodb-client.js';
import { payloadDigest } from '../../lib/store/upsert-expression.js';
import { call, devStack, errorCode, unique } from '../support/api-client.js';

const upsert = (model: string, json: Record<string, unknown>, headers?: Record<string, string>) =>
  call('POST', `/models/${model}/records`, { json, ...(headers ? { headers } : {}) });
const get = (model: string, id: string) => call('GET', `/models/${model}/records/${encodeURIComponent(id)}`);

describe('merge', () => {
  it('stores JSON values as given and merges shallowly by top-level field', async () => {
    const name = unique('acme');
    const first = await upsert('account', { name, plan: 'pro', address: { city: 'Paris', zip: '75001' }, tags: ['a', 'b'], seats: 10, active: true });
    expect(first.status).toBe(201);
    const second = await upsert('account', { name, address: { city: 'Lyon' }, seats: 12 });
    expect(second.status).toBe(200);
    expect(second.body.fields).toEqual({ name, plan: 'pro', address: { city: 'Lyon' }, tags: ['a', 'b'], seats: 12, active: true });
    expect((await get('account', name)).body.fields).toEqual(second.body.fields);
  });

  it('removes a field on JSON null and on form _unset, and keeps the rest', async () => {
    const name = unique('acme');
    await upsert('account', { name, a: 1, b: 2, c: 3 });
    const afterNull = await upsert('account', { name, a: null });
    expect(afterNull.body.fields).toEqual({ name, b: 2, c: 3 });
    const afterUnset = await call('POST', '/models/account/records', { form: `name=${name}&_unset=b&_unset=c&d=4` });
    expect(afterUnset.status).toBe(200);
    expect(afterUnset.body.fields).toEqual({ name, d: '4' });
    expect(afterUnset.body.version).toBe(3);
  });

  it('turns a repeated form key into an array of strings', async () => {
    const name = unique('acme');
    const response = await call('POST', '/models/account/records', { form: `name=${name}&tag=x&tag=y&tag=z` });
    expect(response.body.fields.tag).toEqual(['x', 'y', 'z']);
  });

  it('refuses to remove the unique field and changes nothing', async () => {
    const name = unique('acme');
    await upsert('account', { name, keep: 'me' });
    const response = await call('POST', '/models/account/records', { form: `name=${name}&_unset=name` });
    expect(response.status).toBe(422);
    expect(errorCode(response)).toBe('validation_failed');
    expect((await get('account', name)).body).toMatchObject({ version: 1, fields: { name, keep: 'me' } });
  });

  it('stores field names that are words elsewhere faithfully', async () => {
    const name = unique('acme');
    const fields = { name, status: 's', size: 'z', 'a.b': 1, '#x': 2, constructor: 'c', prototype: 'p', toString: 't', 'with space': 3, 'ünï': 4 };
    const response = await upsert('account', fields);
    expect(response.status).toBe(201);
    const read = await get('account', name);
    expect(read.body.fields).toEqual(fields);
  });
});

describe('status, version and idempotency', () => {
  it('answers 201 on create, 200 after, and a repeated identical upsert changes nothing', async () => {
    const name = unique('acme');
    const created = await upsert('account', { name, size: '1-10' });
    expect(created.status).toBe(201);
    const repeat = await upsert('account', { name, size: '1-10' });
    expect(repeat.status).toBe(200);
    expect(repeat.body.version).toBe(1);
    expect(repeat.body.updated_at).toBe(created.body.updated_at);
    expect(repeat.headers.get('etag')).toBe('"1"');

    // A payload that is a subset of what is stored is also no change.
    const subset = await upsert('account', { name });
    expect(subset.body.version).toBe(1);
    // Removing a field that is not there changes nothing either.
    const removeMissing = await upsert('account', { name, never_set: null });
    expect(removeMissing.body.version).toBe(1);

    const changed = await upsert('account', { name, size: '11-50' });
    expect(changed.body.version).toBe(2);
    expect(changed.body.updated_at >= created.body.updated_at).toBe(true);
    expect(changed.body.created_at).toBe(created.body.created_at);
  });

  it('recognises a repeated identical upsert of 300 fields (beyond the exact test budget)', async () => {
    const name = unique('wide');
    const fields: Record<string, unknown> = { name };
    for (let i = 0; i < 299; i += 1) fields[`field_${i}`] = `value ${i}`;
    expect((await upsert('account', fields)).status).toBe(201);
    const repeat = await upsert('account', fields);
    expect(repeat.status).toBe(200);
    expect(repeat.body.version).toBe(1);
    // A JSON object's keys in another order, at any depth, are the same value: no change.
    const withObject = { ...fields, field_0: { a: 1, inner: { x: [1, { p: 1, q: 2 }], y: 2 } } };
    expect((await upsert('account', withObject)).body.version).toBe(2);
    const reordered = await upsert('account', { ...fields, field_0: { inner: { y: 2, x: [1, { q: 2, p: 1 }] }, a: 1 } });
    expect([reordered.status, reordered.body.version]).toEqual([200, 2]);
    expect((await upsert('account', fields)).body.version).toBe(3);
    const changed = await upsert('account', { ...fields, field_0: 'other' });
    expect(changed.body.version).toBe(4);
    expect(Object.keys(changed.body.fields)).toHaveLength(300);
    // The documented limit of the digest test: after another write, a repeat counts as a change (never the reverse).
    expect((await upsert('account', { name, other: 1 })).body.version).toBe(5);
    const afterOther = await upsert('account', { ...fields, field_0: 'other' });
    expect(afterOther.body.version).toBe(6);
    expect((await upsert('account', { ...fields, field_0: 'other' })).body.version).toBe(6);

    // An item stamped by the code before the write stamp held a bare digest (no token): its next repeat counts as a
    // change once (docs/operations.md), and is recognised from then on.
    const { dynamodbEndpoint, tableName } = devStack();
    const client = createDynamoDbClient({ endpoint: dynamodbEndpoint });
    const set = Object.entries({ ...fields, field_0: 'other' });
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: `R#dev#account#${name}` }, sk: { S: 'R' } },
        UpdateExpression: 'SET pd = :bare',
        ExpressionAttributeValues: { ':bare': { S: payloadDigest(set, []) } },
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
    client.destroy();
    expect((await upsert('account', { ...fields, field_0: 'other' })).body.version).toBe(7);
    expect((await upsert('account', { ...fields, field_0: 'other' })).body.version).toBe(7);
  });

  it('refuses a merge that would grow the record past the item limit, and keeps the record', async () => {
    const name = unique('big');
    expect((await upsert('account', { name, a: 'x'.repeat(200 * 1024) })).status).toBe(201);
    const tooBig = await upsert('account', { name, b: 'y'.repeat(210 * 1024) });
    expect(tooBig.status).toBe(413);
    expect(errorCode(tooBig)).toBe('record_too_large');
    // The payload alone is within the limit, so the message names the merged record and what to do.
    expect(tooBig.body.error.message).toMatch(/merged in would be over 400 KB.*remove fields/);
    const read = await get('account', name);
    expect(read.body.version).toBe(1);
    expect(read.body.fields.b).toBeUndefined();
  });

  it('never shows updated_at before created_at: a change stamped before the write that made the record is shown at created_at', async () => {
    // The record was made by a container whose clock is an hour ahead of this one (or by a concurrent create that
    // landed after an update stamped a moment earlier): this change is stamped before the record's creation.
    const name = unique('ahead');
    await upsert('account', { name, a: 1 });
    const ahead = new Date(Date.now() + 3_600_000).toISOString();
    const { dynamodbEndpoint, tableName } = devStack();
    const client = createDynamoDbClient({ endpoint: dynamodbEndpoint });
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: `R#dev#account#${name}` }, sk: { S: 'R' } },
        UpdateExpression: 'SET ca = :ahead, ua = :ahead',
        ExpressionAttributeValues: { ':ahead': { S: ahead } },
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
    client.destroy();
    const changed = await upsert('account', { name, a: 2 });
    expect(changed.body).toMatchObject({ version: 2, created_at: ahead, updated_at: ahead, fields: { a: 2 } });
    expect((await get('account', name)).body).toMatchObject({ version: 2, created_at: ahead, updated_at: ahead });
    // The dev workspace is shared by every test file: the listing is walked until the record turns up.
    let found: unknown;
    let cursor: string | null = null;
    do {
      const page = await call('GET', `/models/account/records?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      found = page.body.records.find((record: { id: string }) => record.id === name);
      cursor = page.body.next_cursor;
    } while (found === undefined && cursor !== null);
    expect(found).toMatchObject({ updated_at: ahead });
  });

  it('sends the ETag with a read as well', async () => {
    const name = unique('etag');
    await upsert('account', { name });
    await upsert('account', { name, x: 1 });
    expect((await get('account', name)).headers.get('etag')).toBe('"2"');
  });
});

describe('conditional writes', () => {
  it('applies If-Match only to the named version', async () => {
    const name = unique('acme');
    await upsert('account', { name, n: 1 });
    const stale = await upsert('account', { name, n: 2 }, { 'If-Match': '"7"' });
    expect(stale.status).toBe(412);
    expect(errorCode(stale)).toBe('precondition_failed');
    expect((await get('account', name)).body.fields.n).toBe(1);
    const fresh = await upsert('account', { name, n: 2 }, { 'If-Match': '"1"' });
    expect(fresh.status).toBe(200);
    expect(fresh.body.version).toBe(2);
    // The matching version with nothing to change is a success that changes nothing.
    const same = await upsert('account', { name, n: 2 }, { 'If-Match': '"2"' });
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(2);
  });

  it('refuses If-Match on a record that does not exist', async () => {
    const response = await upsert('account', { name: unique('ghost') }, { 'If-Match': '"1"' });
    expect(response.status).toBe(412);
  });

  it('makes If-None-Match: * create-only', async () => {
    const name = unique('acme');
    expect((await upsert('account', { name, v: 1 }, { 'If-None-Match': '*' })).status).toBe(201);
    const again = await upsert('account', { name, v: 2 }, { 'If-None-Match': '*' });
    expect(again.status).toBe(412);
    expect((await get('account', name)).body.fields.v).toBe(1);
  });

  it('deletes with If-Match only at the named version', async () => {
    const name = unique('acme');
    await upsert('account', { name });
    const stale = await call('DELETE', `/models/account/records/${name}`, { headers: { 'If-Match': '"9"' } });
    expect(stale.status).toBe(412);
    expect((await call('DELETE', `/models/account/records/${name}`, { headers: { 'If-Match': '"1"' } })).status).toBe(204);
    expect((await call('DELETE', `/models/account/records/${name}`)).status).toBe(404);
  });

  it('never brings a deleted record back through a stale conditional write', async () => {
    const name = unique('acme');
    await upsert('account', { name, n: 1 });
    expect((await call('DELETE', `/models/account/records/${name}`)).status).toBe(204);
    expect((await upsert('account', { name, n: 2 }, { 'If-Match': '"1"' })).status).toBe(412);
    expect((await call('DELETE', `/models/account/records/${name}`, { headers: { 'If-Match': '"1"' } })).status).toBe(412);
    expect((await get('account', name)).status).toBe(404);
    // An unconditional upsert after a delete creates the record anew.
    const again = await upsert('account', { name, n: 3 });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ version: 1, fields: { name, n: 3 } });
  });

  it('takes If-Match: * as "only if the record exists", on upserts and deletes', async () => {
    const ghost = unique('ghost');
    const refused = await upsert('account', { name: ghost }, { 'If-Match': '*' });
    expect(refused.status).toBe(412);
    expect(errorCode(refused)).toBe('precondition_failed');
    expect((await get('account', ghost)).status).toBe(404);
    expect((await call('DELETE', `/models/account/records/${ghost}`, { headers: { 'If-Match': '*' } })).status).toBe(412);
    // An id no record can have (a customer's that is no e-mail address) does not exist either: If-Match fails the same
    // way, where without it the delete is a 404, and so is If-None-Match: * ("only if there is none").
    for (const ifMatch of ['*', '"1"']) {
      const impossible = await call('DELETE', '/models/customer/records/not-an-email', { headers: { 'If-Match': ifMatch } });
      expect([ifMatch, impossible.status, errorCode(impossible)]).toEqual([ifMatch, 412, 'precondition_failed']);
    }
    expect((await call('DELETE', '/models/customer/records/not-an-email', { headers: { 'If-None-Match': '*' } })).status).toBe(404);
    expect((await call('DELETE', '/models/customer/records/not-an-email')).status).toBe(404);
    const name = unique('acme');
    await upsert('account', { name, n: 1 });
    const updated = await upsert('account', { name, n: 2 }, { 'If-Match': '*' });
    expect([updated.status, updated.body.version]).toEqual([200, 2]);
    expect((await call('DELETE', `/models/account/records/${name}`, { headers: { 'If-Match': '*' } })).status).toBe(204);
  });

  it('applies a list of ETags in If-Match when the stored version is any of them', async () => {
    const name = unique('acme');
    await upsert('account', { name, n: 1 });
    const stale = await upsert('account', { name, n: 2 }, { 'If-Match': '"5", "6"' });
    expect(stale.status).toBe(412);
    expect((await get('account', name)).body.fields.n).toBe(1);
    const listed = await upsert('account', { name, n: 2 }, { 'If-Match': '"5", "1", W/"9"' });
    expect([listed.status, listed.body.version]).toEqual([200, 2]);
    expect((await call('DELETE', `/models/account/records/${name}`, { headers: { 'If-Match': '"1","3"' } })).status).toBe(412);
    expect((await call('DELETE', `/models/account/records/${name}`, { headers: { 'If-Match': '"1","2"' } })).status).toBe(204);
  });

  it('fails with 412, writing nothing, an If-Match whose ETags no record can have ("01", "abc", "0")', async () => {
    const name = unique('acme');
    await upsert('account', { name, n: 1 });
    for (const header of ['"01"', '"abc"', '"0"', '"01", "x"']) {
      const response = await upsert('account', { name, n: 2 }, { 'If-Match': header });
      expect([header, response.status, errorCode(response)]).toEqual([header, 412, 'precondition_failed']);
    }
    expect((await get('account', name)).body.version).toBe(1);
  });

  it('honours If-None-Match: * on a delete: 412 while the record exists (it stays), 404 when there is none', async () => {
    const name = unique('acme');
    await upsert('account', { name });
    const refused = await call('DELETE', `/models/account/records/${name}`, { headers: { 'If-None-Match': '*' } });
    expect(refused.status).toBe(412);
    expect(errorCode(refused)).toBe('precondition_failed');
    expect((await get('account', name)).status).toBe(200);
    expect((await call('DELETE', `/models/account/records/${unique('ghost')}`, { headers: { 'If-None-Match': '*' } })).status).toBe(404);
  });

  it('keeps the longest If-Match within DynamoDB\'s expression limits with the longest field-by-field change test', async () => {
    const name = unique('wide');
    // 140 fields with the name: the most the exact change test takes (lib/store/upsert-expression.ts), its 280
    // operators and If-Match's 20 values together, sent to DynamoDB Local, which refuses an expression over its limits.
    const fields = Object.fromEntries(Array.from({ length: 139 }, (_, i) => [`field_with_a_long_name_${i}`, i]));
    expect((await upsert('account', { name, ...fields })).status).toBe(201);
    const etags = Array.from({ length: 20 }, (_, i) => `"${i + 1}"`).join(', ');
    const changed = await upsert('account', { name, ...Object.fromEntries(Object.keys(fields).map((f) => [f, -1])) }, { 'If-Match': etags });
    expect([changed.status, changed.body.version]).toEqual([200, 2]);
    const tooMany = await upsert('account', { name, x: 1 }, { 'If-Match': Array.from({ length: 21 }, (_, i) => `"${i + 1}"`).join(', ') });
    expect([tooMany.status, errorCode(tooMany)]).toEqual([400, 'malformed_header']);
  });

  it('reads If-Match sent on several header lines as one list (RFC 9110), and refuses two different Idempotency-Keys', async () => {
    // fetch joins repeated headers into one line; node:http sends an array as separate lines, as some clients do.
    const { baseUrl, token } = devStack();
    // Headers as raw lines, in order and spelled as given (an object would merge `If-Match` and `if-match` into one).
    const raw = (method: string, path: string, headers: Record<string, string | string[]> | string[], body?: string) =>
      new Promise<{ status: number; body: { error?: { code: string }; version?: number } }>((resolve, reject) => {
        const lines = Array.isArray(headers) ? headers : Object.entries(headers).flatMap(([name, value]) => [value].flat().flatMap((v) => [name, v]));
        const url = new URL(path, baseUrl);
        const request = httpRequest(url, { method, headers: ['Host', url.host, 'Authorization', `Token ${token}`, ...lines] }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
        });
        request.on('error', reject);
        request.end(body);
      });
    const name = unique('lines');
    await upsert('account', { name, n: 1 });
    const json = { 'Content-Type': 'application/json' };
    const body = JSON.stringify({ name, n: 2 });
    // The version (1) is on the first line: read as a list, the write applies; read as the last line only, it would not.
    const listed = await raw('POST', '/models/account/records', { ...json, 'If-Match': ['"1"', '"999"'] }, body);
    expect([listed.status, listed.body.version]).toEqual([200, 2]);
    // `*` inside a list is not an ETag list: 400, as on one line, and nothing is deleted.
    const mixed = await raw('DELETE', `/models/account/records/${name}`, { 'If-Match': ['"7"', '*'] });
    expect([mixed.status, mixed.body.error?.code]).toEqual([400, 'malformed_header']);
    expect((await get('account', name)).status).toBe(200);
    const keys = await raw('POST', '/models/account/records', { ...json, 'Idempotency-Key': ['a', 'b'] }, body);
    expect([keys.status, keys.body.error?.code]).toEqual([400, 'malformed_header']);
    // The same header in two spellings is one header: neither line is lost when the names are lower-cased.
    const spelled = await raw('DELETE', `/models/account/records/${name}`, ['If-Match', '"7"', 'if-match', '*']);
    expect([spelled.status, spelled.body.error?.code]).toEqual([400, 'malformed_header']);
    expect((await get('account', name)).status).toBe(200);
    const spelledKeys = await raw('POST', '/models/account/records', ['Content-Type', 'application/json', 'Idempotency-Key', 'a', 'idempotency-key', 'b'], body);
    expect([spelledKeys.status, spelledKeys.body.error?.code]).toEqual([400, 'malformed_header']);
  });

  it('refuses If-Match and If-None-Match on write routes that cannot apply them, writing nothing; reads ignore them', async () => {
    const name = unique('batchcond');
    const batch = await call('POST', '/models/account/batch', { json: { records: [{ name }] }, headers: { 'If-Match': '"99"' } });
    expect([batch.status, errorCode(batch)]).toEqual([400, 'malformed_header']);
    expect((await get('account', name)).status).toBe(404);
    const model = `cond_${unique('m').replace(/[^a-z0-9]/g, '').slice(-12)}`;
    const define = await call('PUT', `/models/${model}`, { json: { unique_field: 'ref' }, headers: { 'If-None-Match': '*' } });
    expect([define.status, errorCode(define)]).toEqual([400, 'malformed_header']);
    expect((await call('GET', `/models/${model}`)).status).toBe(404);
    expect((await call('GET', '/models/account/records?limit=1', { headers: { 'If-Match': '"99"' } })).status).toBe(200);
  });

  it('rejects a malformed If-Match with a 400', async () => {
    for (const header of ['yesterday', '"1" "2"', '"1",x', 'W/1', '""1""']) {
      const response = await upsert('account', { name: unique('acme') }, { 'If-Match': header });
      expect([header, response.status, errorCode(response)]).toEqual([header, 400, 'malformed_header']);
    }
  });
});

describe('customers and links', () => {
  it('normalizes the email: trimmed and lower-cased, found by any casing', async () => {
    const local = unique('Peggy');
    const response = await upsert('customer', { email: `  ${local}@SterlingCooper.COM ` });
    expect(response.status).toBe(201);
    const id = `${local.toLowerCase()}@sterlingcooper.com`;
    expect(response.body.id).toBe(id);
    expect(response.body.fields.email).toBe(id);
    expect((await upsert('customer', { email: id.toUpperCase() })).body.version).toBe(1);
    const read = await get('customer', `${local.toUpperCase()}@STERLINGCOOPER.com`);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(id);
  });

  it('normalizes the email to NFC too: an address with combining accents is the same customer as the precomposed one', async () => {
    const local = unique('elodie');
    const composed = `\u00c9${local}@ex\u00e4mple.com`;
    const decomposed = `E\u0301${local}@exa\u0308mple.com`;
    expect((await upsert('customer', { email: composed })).status).toBe(201);
    const again = await upsert('customer', { email: decomposed, title: 'CFO' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(composed.toLowerCase());
    const read = await get('customer', decomposed);
    expect(read.status).toBe(200);
    expect(read.body.fields.title).toBe('CFO');
  });

  it('rejects a customer whose email is not an e-mail address', async () => {
    const response = await upsert('customer', { email: 'not-an-email' });
    expect(response.status).toBe(422);
    expect(response.body.error.details).toEqual([{ field: 'email', issue: expect.any(String) }]);
  });

  it('links a customer synced before its account as soon as the account exists, and unlinks on null', async () => {
    const account = unique('Acct');
    const email = `${unique('c')}@x.io`;
    const early = await upsert('customer', { email, account });
    expect(early.body.links.account).toEqual({ id: account, exists: false });
    await upsert('account', { name: account });
    expect((await get('customer', email)).body.links.account).toEqual({ id: account, exists: true });
    // An upsert that does not name the account still reports the link.
    expect((await upsert('customer', { email, note: 'n' })).body.links.account).toEqual({ id: account, exists: true });
    const unlinked = await upsert('customer', { email, account: null });
    expect(unlinked.body.links).toEqual({ account: null });
    expect(unlinked.body.fields.account).toBeUndefined();
  });

  it('matches links on the normalized account name', async () => {
    const account = unique('Café');
    await upsert('account', { name: ` ${account.normalize('NFD')} ` });
    const email = `${unique('c')}@x.io`;
    const response = await upsert('customer', { email, account: account.normalize('NFD') });
    expect(response.body.fields.account).toBe(account.normalize('NFC'));
    expect(response.body.links.account).toEqual({ id: account.normalize('NFC'), exists: true });
  });
});
