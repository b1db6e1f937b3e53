/** Idempotency-Key on write routes: replay without a second write, 422 on reuse, 409 while in flight, per workspace. */
import { call, errorCode, requestLogLine, unique, workspaceWithKey } from '../support/api-client.js';

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
    expect((await call('GET', `/models/account/records/${name}`, { token })).body.fields.n).toBe(1);
    // The refused reuse did not disturb the first request's record: it still replays.
    expect((await post({ name, n: 1 }, key)).status).toBe(201);
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

  it('answers a second request while the first is in flight with a 409', async () => {
    const key = unique('key');
    const body = { records: Array.from({ length: 400 }, (_, i) => ({ name: `${key}-${i}` })) };
    const [a, b] = await Promise.all([
      call('POST', '/models/account/batch', { json: body, token, headers: { 'Idempotency-Key': key } }),
      new Promise((r) => setTimeout(r, 40)).then(() => call('POST', '/models/account/batch', { json: body, token, headers: { 'Idempotency-Key': key } })),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const conflict = a.status === 409 ? a : b;
    expect(errorCode(conflict)).toBe('request_in_progress');
    expect(conflict.headers.get('retry-after')).toBe('1');
    // Once the first is done, the same request replays its result.
    const replay = await call('POST', '/models/account/batch', { json: body, token, headers: { 'Idempotency-Key': key } });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual((a.status === 200 ? a : b).body);
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
