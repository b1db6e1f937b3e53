/**
 * Idempotency-Key on write routes: replay without a second write, 422 on reuse, per workspace. The 409 for a key whose
 * first request is still in flight needs that request held: test/integration/dynamodb-faults.test.ts holds its write.
 */
import { randomBytes } from 'node:crypto';
import { authorizedPostEvent } from '../../lib/bench/upsert-event.js';
import { call, devStack, errorCode, requestLogLine, unique, workspaceWithKey } from '../support/api-client.js';
import { runScript } from '../support/script-process.js';

describe('Idempotency-Key', () => {
  let token: string;
  beforeAll(async () => {
    ({ token } = await workspaceWithKey(['records:read', 'records:write', 'models:write']));
  });
  const post = (json: unknown, key: string, as = token) =>
    call('POST', '/models/account/records', { json, token: as, headers: { 'Idempotency-Key': key } });

  it('replays the first response to the same key and body, without a second write', async () => {
    const name = unique('idem');
    const key = unique('key');
    const first = await post({ name, n: 1 }, key);
    expect(first.status).toBe(201);
    // Another client changes the record; the replay still answers what the first request answered.
    await call('POST', '/models/account/records', { json: { name, n: 2 }, token });
    const replay = await post({ name, n: 1 }, key);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('etag')).toBe('"1"');
    const stored = await call('GET', `/models/account/records/${name}`, { token });
    expect(stored.body).toMatchObject({ version: 2, fields: { n: 2 } });
    // The replay is logged like any request, and marked: it wrote nothing.
    expect(await requestLogLine(replay.headers.get('x-amzn-requestid')!)).toMatchObject({ route: 'UpsertRecord', status: 201, replayed: true });
    expect(await requestLogLine(first.headers.get('x-amzn-requestid')!)).not.toHaveProperty('replayed');
  });

  it('refuses the same key with a different body, or on a different path, with a 422', async () => {
    const name = unique('idem');
    const key = unique('key');
    expect((await post({ name, n: 1 }, key)).status).toBe(201);
    const reused = await post({ name, n: 99 }, key);
    expect(reused.status).toBe(422);
    expect(errorCode(reused)).toBe('idempotency_key_reused');
    const elsewhere = await call('POST', '/models/customer/records', { json: { email: `${name}@x.io` }, token, headers: { 'Idempotency-Key': key } });
    expect(elsewhere.status).toBe(422);
    // Another route, served by another function on a stage: a key belongs to the workspace, not to one function.
    const deleted = await call('DELETE', `/models/account/records/${name}`, { token, headers: { 'Idempotency-Key': key } });
    expect([deleted.status, errorCode(deleted)]).toEqual([422, 'idempotency_key_reused']);
    expect((await call('GET', `/models/account/records/${name}`, { token })).body.fields.n).toBe(1);
    // The refused reuse did not disturb the first request's record: it still replays.
    expect((await post({ name, n: 1 }, key)).status).toBe(201);
  });

  it('shares a key between the functions of a stage: another function, in a process of its own, replays the first answer', async () => {
    // On a stage each route is its own function, with its own AWS_LAMBDA_FUNCTION_NAME, which Powertools would take as
    // the key's prefix; the local gateway serves every route from one process, so only separate processes show it.
    const { workspace } = await workspaceWithKey(['records:write']);
    const { tableName, dynamodbEndpoint } = devStack();
    const name = unique('idem-fn');
    const event = authorizedPostEvent({ resource: '/models/{model}/records', model: 'account', json: { name, n: 1 }, requestId: unique('fn'), workspace, scopes: 'records:write' });
    const keyed = { ...event, headers: { ...event.headers, 'Idempotency-Key': unique('key') } };
    const invokeAs = async (functionName: string) => {
      const run = await runScript('test/support/invoke-function.ts', ['functions/upsert-record.ts'], {
        env: {
          AWS_LAMBDA_FUNCTION_NAME: functionName,
          TABLE_NAME: tableName,
          IDEMPOTENCY_TABLE_NAME: `${tableName}-idempotency`,
          DYNAMODB_ENDPOINT: dynamodbEndpoint,
          GATHER_EVENT: JSON.stringify(keyed),
        },
      });
      if (run.code !== 0) throw new Error(run.stderr);
      return JSON.parse(run.stdout.trimEnd().split('\n').at(-1)!) as { statusCode: number; body: string };
    };
    const first = await invokeAs('gather-prod-UpsertRecord1A2B3C');
    expect(first.statusCode).toBe(201);
    // The same request, handled by another function of the stage: a replay of the 201, not a repeat answered 200.
    const second = await invokeAs('gather-prod-UpsertRecordCopy4D5E6F');
    expect([second.statusCode, second.body]).toEqual([201, first.body]);
  });

  it('counts If-Match and If-None-Match as part of the request: the same key with other conditions is a 422', async () => {
    const name = unique('idem');
    await call('POST', '/models/account/records', { json: { name, n: 1 }, token });
    const key = unique('key');
    const send = (headers: Record<string, string>) =>
      call('POST', '/models/account/records', { json: { name, n: 2 }, token, headers: { 'Idempotency-Key': key, ...headers } });
    expect((await send({ 'If-Match': '"1"' })).status).toBe(200);
    for (const other of [{ 'If-Match': '"2"' }, {}, { 'If-None-Match': '*' }] as Record<string, string>[]) {
      const reused = await send(other);
      expect([JSON.stringify(other), reused.status, errorCode(reused)]).toEqual([JSON.stringify(other), 422, 'idempotency_key_reused']);
    }
    // The same request again replays.
    const replay = await send({ 'If-Match': '"1"' });
    expect([replay.status, replay.body.version]).toEqual([200, 2]);
  });

  it("counts the body's Content-Type and Content-Encoding as part of the request: the same bytes as a form and as text/plain are two requests", async () => {
    const name = unique('idem');
    const key = unique('key');
    const send = (contentType: string) => call('POST', '/models/account/records', { raw: `name=${name}&n=1`, token, headers: { 'Content-Type': contentType, 'Idempotency-Key': key } });
    expect((await send('application/x-www-form-urlencoded')).status).toBe(201);
    // Not a replay of the form's 201 (a text/plain body is a 415): another request under the same key, so a reuse.
    const reused = await send('text/plain');
    expect([reused.status, errorCode(reused)]).toEqual([422, 'idempotency_key_reused']);
    // So is a coding: the same bytes labelled br.
    const labelled = await call('POST', '/models/account/records', {
      raw: `name=${name}&n=1`,
      token,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Encoding': 'br', 'Idempotency-Key': key },
    });
    expect([labelled.status, errorCode(labelled)]).toEqual([422, 'idempotency_key_reused']);
    expect((await send('application/x-www-form-urlencoded')).status).toBe(201);
  });

  it('keeps keys of different workspaces apart', async () => {
    const other = await workspaceWithKey(['records:read', 'records:write']);
    const key = unique('key');
    expect((await post({ name: 'shared' }, key)).status).toBe(201);
    const theirs = await post({ name: 'shared' }, key, other.token);
    expect(theirs.status).toBe(201);
    expect((await call('GET', '/models/account/records/shared', { token: other.token })).status).toBe(200);
  });

  it('does not store a failed request, so it can be retried with the same key', async () => {
    const key = unique('key');
    expect((await post({ nope: 1 }, key)).status).toBe(422);
    const name = unique('fixed');
    // A 4xx claimed nothing: the key serves the corrected request.
    expect((await post({ name }, key)).status).toBe(201);
  });

  it('works on every write route: delete, model definition and deletion', async () => {
    const name = unique('del');
    await call('POST', '/models/account/records', { json: { name }, token });
    const key = unique('key');
    expect((await call('DELETE', `/models/account/records/${name}`, { token, headers: { 'Idempotency-Key': key } })).status).toBe(204);
    // Replayed: 204 again, not the 404 a second delete would get.
    expect((await call('DELETE', `/models/account/records/${name}`, { token, headers: { 'Idempotency-Key': key } })).status).toBe(204);
    expect((await call('DELETE', `/models/account/records/${name}`, { token })).status).toBe(404);
    const modelKey = unique('key');
    const define = () => call('PUT', '/models/widget', { json: { unique_field: 'sku' }, token, headers: { 'Idempotency-Key': modelKey } });
    expect((await define()).status).toBe(201);
    expect((await define()).status).toBe(201);
    const deleteKey = unique('key');
    const remove = () => call('DELETE', '/models/widget', { token, headers: { 'Idempotency-Key': deleteKey } });
    expect((await remove()).status).toBe(204);
    // Replayed: 204 again, not the 404 a second deletion gets.
    expect((await remove()).status).toBe(204);
    const again = await call('DELETE', '/models/widget', { token });
    expect([again.status, errorCode(again)]).toEqual([404, 'model_not_found']);
  });

  it('remembers a delete that found nothing (404) as it remembers one that deleted: a retry with its key deletes nothing made since', async () => {
    const name = unique('gone');
    const key = unique('key');
    const remove = () => call('DELETE', `/models/account/records/${name}`, { token, headers: { 'Idempotency-Key': key } });
    const first = await remove();
    expect([first.status, errorCode(first)]).toEqual([404, 'record_not_found']);
    // The client lost that 404 and retries; meanwhile another client made the record.
    expect((await call('POST', '/models/account/records', { json: { name }, token })).status).toBe(201);
    const retry = await remove();
    expect(retry.status).toBe(404);
    expect(retry.body).toEqual(first.body);
    expect((await call('GET', `/models/account/records/${name}`, { token })).status).toBe(200);
    // The same for a model: its deletion's 404 is replayed, and the model defined since stays.
    const model = `gone_${randomBytes(4).toString('hex')}`;
    const modelKey = unique('key');
    const removeModel = () => call('DELETE', `/models/${model}`, { token, headers: { 'Idempotency-Key': modelKey } });
    const firstModel = await removeModel();
    expect([firstModel.status, errorCode(firstModel)]).toEqual([404, 'model_not_found']);
    expect((await call('PUT', `/models/${model}`, { json: { unique_field: 'sku' }, token })).status).toBe(201);
    expect((await removeModel()).body).toEqual(firstModel.body);
    expect((await call('GET', `/models/${model}`, { token })).status).toBe(200);
    expect((await call('DELETE', `/models/${model}`, { token })).status).toBe(204);
    // Other failures are still not remembered: a 422 frees the key for the corrected request (above).
  });

  it('counts the query string as part of the request: a delete by ?id= of another record is a 422', async () => {
    const [a, b] = [unique('qa'), unique('qb')];
    for (const name of [a, b]) await call('POST', '/models/account/records', { json: { name }, token });
    const key = unique('key');
    const remove = (name: string) => call('DELETE', `/models/account/record?id=${encodeURIComponent(name)}`, { token, headers: { 'Idempotency-Key': key } });
    expect((await remove(a)).status).toBe(204);
    const other = await remove(b);
    expect([other.status, errorCode(other)]).toEqual([422, 'idempotency_key_reused']);
    expect((await call('GET', `/models/account/records/${b}`, { token })).status).toBe(200);
    expect((await remove(a)).status).toBe(204);
  });

  it('replays answers too large for one idempotency item, which are stored gzipped', async () => {
    // A 70 KB record whose JSON is six times as long: each control character is written as \u0001.
    const name = unique('large');
    expect((await call('POST', '/models/account/records', { json: { name, a: '\u0001'.repeat(70_000) }, token })).status).toBe(201);
    const key = unique('key');
    const first = await post({ name, status: 'active' }, key);
    expect(first.status).toBe(200);
    expect(first.text.length).toBeGreaterThan(400_000);
    // A change in between: a replay answers the first answer, where running again would answer version 4, 'active'.
    const changed = await call('POST', '/models/account/records', { json: { name, status: 'changed' }, token });
    expect([changed.status, changed.body.version]).toEqual([200, 3]);
    const replay = await post({ name, status: 'active' }, key);
    expect([replay.status, replay.headers.get('etag')]).toEqual([200, '"2"']);
    expect(replay.text).toBe(first.text);
    // A batch whose per-item results run past 400 KB: half its items refused, each naming eight fields.
    const refused = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`_exported_field_${i}`, 'x']));
    const records = Array.from({ length: 1000 }, (_, i) => (i % 2 ? { name: `${name}-${i}`, ...refused } : { name: `${name}-${i}` }));
    const batchKey = unique('key');
    const batch = () => call('POST', '/models/account/batch', { json: { records }, token, headers: { 'Idempotency-Key': batchKey } });
    const answered = await batch();
    expect(answered.status).toBe(200);
    expect(answered.text.length).toBeGreaterThan(400_000);
    const again = await batch();
    expect(again.status).toBe(200);
    expect(again.text).toBe(answered.text);
  });

  it('gives an answer too large to remember even gzipped, and releases its key, so a retry runs again', async () => {
    const name = unique('random');
    const key1 = unique('key');
    // About 330 KB of random base64: gzip keeps it near 250 KB, and base64 again brings it past what an item holds.
    const noise = randomBytes(247_000).toString('base64');
    const first = await post({ name, noise }, key1);
    expect(first.status).toBe(201);
    expect(first.body.fields.noise).toBe(noise);
    // Not a replay (that would be the 201 again) and not a 503: the request ran again, an identical repeat.
    const retry = await post({ name, noise }, key1);
    expect([retry.status, retry.body.version]).toEqual([200, 1]);
  });

  it('refuses a malformed key with a 400, and ignores the header on reads', async () => {
    const bad = await post({ name: unique('x') }, 'has spaces in it');
    expect(bad.status).toBe(400);
    expect(errorCode(bad)).toBe('malformed_header');
    expect((await post({ name: unique('x') }, 'k'.repeat(256))).status).toBe(400);
    const read = await call('GET', '/models/account/records/whatever', { token, headers: { 'Idempotency-Key': 'has spaces' } });
    expect(read.status).toBe(404);
  });
});
