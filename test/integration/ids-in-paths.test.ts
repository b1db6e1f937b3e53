/** Ids in paths are percent-decoded exactly once; ids with `/` are reached through the `?id=` form. */
import { call, errorCode, unique, workspaceWithKey } from '../support/api-client.js';

async function create(name: string) {
  const response = await call('POST', '/models/account/records', { json: { name } });
  expect(response.status).toBe(201);
  return response.body.id as string;
}

describe('ids in paths', () => {
  it.each([
    ['a space', (s: string) => `Sterling Cooper ${s}`],
    ['a plus sign', (s: string) => `A+B ${s}`],
    ['unicode', (s: string) => `Zürich 東京 ${s}`],
    ['a percent sign', (s: string) => `100% ${s}`],
    ['an encoded-looking sequence', (s: string) => `a%2Fb ${s}`],
    ['a hash and a question mark', (s: string) => `#1? ${s}`],
  ])('reads and deletes an id with %s', async (_label, make) => {
    const id = await create(make(unique()));
    const path = `/models/account/records/${encodeURIComponent(id)}`;
    const read = await call('GET', path);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(id);
    expect((await call('DELETE', path)).status).toBe(204);
    expect((await call('GET', path)).status).toBe(404);
  });

  it("refuses, as a stage's API Gateway does (414), a path whose method ARN would pass 1,600 bytes, and reaches that id through the query form", async () => {
    // 300 three-byte characters: a 900-byte id, 2,700 characters percent-encoded; and the longest ASCII id, 1,024 bytes.
    const long = await create(`${'€'.repeat(300)} ${unique()}`.slice(0, 320));
    const ascii = await create(`${unique()}-${'a'.repeat(1024)}`.slice(0, 1024));
    for (const [method, path] of [
      ['GET', `/models/account/records/${encodeURIComponent(long)}`],
      ['DELETE', `/models/account/records/${encodeURIComponent(long)}`],
      ['GET', `/models/account/records/${encodeURIComponent(long)}/customers`],
    ] as const) {
      const refused = await call(method, path);
      expect([method, path.length, refused.status, errorCode(refused)]).toEqual([method, path.length, 414, 'bad_request']);
      // The query form of that same route.
      expect(refused.body.error.message).toContain(path.endsWith('/customers') ? '/models/account/record/customers?id=' : '/models/{model}/record?id=');
    }
    // A route with no id in its path has no query form to name.
    const longModel = await call('POST', `/models/${'m'.repeat(1600)}/records`, { json: { name: 'x' } });
    expect([longModel.status, errorCode(longModel)]).toEqual([414, 'bad_request']);
    expect(longModel.body.error.message).not.toContain('?id=');
    expect((await call('GET', `/models/account/record?id=${encodeURIComponent(long)}`)).body.id).toBe(long);
    // An ASCII id of the longest length fits.
    expect((await call('GET', `/models/account/records/${encodeURIComponent(ascii)}`)).body.id).toBe(ascii);
    expect((await call('DELETE', `/models/account/record?id=${encodeURIComponent(long)}`)).status).toBe(204);
  });

  it('keeps a literal + in a path as a plus, not a space', async () => {
    const id = await create(`x+y ${unique()}`);
    const read = await call('GET', `/models/account/records/${id.replace(' ', '%20')}`);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(id);
  });

  it('reaches an email with a plus through %2B', async () => {
    const email = `${unique('don')}+ads@sc.com`;
    await call('POST', '/models/customer/records', { json: { email } });
    const read = await call('GET', `/models/customer/records/${encodeURIComponent(email)}`);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(email);
  });

  it('addresses an id that contains / through the query form', async () => {
    const id = await create(`A/B Testing ${unique()}`);
    const query = `/models/account/record?id=${encodeURIComponent(id)}`;
    const read = await call('GET', query);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(id);
    // In a path, an encoded slash separates segments (as in API Gateway), so it is not a record route.
    const inPath = await call('GET', `/models/account/records/${encodeURIComponent(id)}`);
    expect(inPath.status).toBe(404);
    expect(errorCode(inPath)).toBe('route_not_found');
    expect((await call('DELETE', query)).status).toBe(204);
    expect((await call('GET', query)).status).toBe(404);
  });

  it("lists the customers of an account whose id contains / through the query form, paginated", async () => {
    const account = `A/B Testing ${unique()}`;
    const emails = [0, 1, 2].map((i) => `${unique(`ab${i}`)}@x.io`.toLowerCase()).sort();
    for (const email of emails) expect((await call('POST', '/models/customer/records', { json: { email, account } })).status).toBe(201);
    const listing = `/models/account/record/customers?id=${encodeURIComponent(account)}`;
    const first = await call('GET', `${listing}&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.records.map((r: { id: string }) => r.id)).toEqual(emails.slice(0, 2));
    expect(first.body.records[0].links).toEqual({ account: { id: account, exists: false } });
    const second = await call('GET', `${listing}&limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.records.map((r: { id: string }) => r.id)).toEqual(emails.slice(2));
    expect(second.body.next_cursor).toBeNull();
    // The path form cannot carry the id: the encoded slash splits the segment.
    const inPath = await call('GET', `/models/account/records/${encodeURIComponent(account)}/customers`);
    expect([inPath.status, errorCode(inPath)]).toEqual([404, 'route_not_found']);
    const noId = await call('GET', '/models/account/record/customers');
    expect([noId.status, errorCode(noId)]).toEqual([400, 'missing_parameter']);
  });

  it('reaches the ids . and .. through the query form (clients drop them from paths as dot segments, %2E too)', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    for (const id of ['.', '..']) {
      expect((await call('POST', '/models/account/records', { json: { name: id }, token })).status).toBe(201);
      const query = `/models/account/record?id=${id}`;
      expect((await call('GET', query, { token })).body.id).toBe(id);
      expect((await call('DELETE', query, { token })).status).toBe(204);
      expect((await call('GET', query, { token })).status).toBe(404);
    }
  });

  it('answers the query form without an id with a 400', async () => {
    const response = await call('GET', '/models/account/record');
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe('missing_parameter');
  });

  it('refuses a query parameter given twice, rather than act on one of its values', async () => {
    const [a, c] = [await create(unique('twice-a')), await create(unique('twice-c'))];
    const both = `id=${encodeURIComponent(a)}&id=${encodeURIComponent(c)}`;
    for (const [method, path] of [
      ['DELETE', `/models/account/record?${both}`],
      ['GET', `/models/account/record?${both}`],
      ['GET', `/models/account/record/customers?${both}`],
      ['GET', '/models/account/records?limit=10&limit=20'],
      ['GET', '/models/account/records?cursor=x&cursor=y'],
    ] as const) {
      const response = await call(method, path);
      expect([method, path, response.status, errorCode(response)]).toEqual([method, path, 422, 'validation_failed']);
      expect(response.body.error.details[0]).toMatchObject({ issue: 'is given more than once' });
    }
    // The refused delete removed neither record.
    for (const id of [a, c]) expect((await call('GET', `/models/account/records/${encodeURIComponent(id)}`)).status).toBe(200);
    // Given once, each works as before.
    expect((await call('DELETE', `/models/account/record?id=${encodeURIComponent(c)}`)).status).toBe(204);
  });

  it('answers a malformed percent-encoding with a 400', async () => {
    const response = await call('GET', '/models/account/records/%E0%A4%A');
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe('malformed_path');
  });

  it('answers an unknown record and an unknown model with 404s', async () => {
    const missing = await call('GET', `/models/account/records/${unique('none')}`);
    expect(missing.status).toBe(404);
    expect(errorCode(missing)).toBe('record_not_found');
    const model = await call('GET', '/models/planet/records/earth');
    expect(model.status).toBe(404);
    expect(errorCode(model)).toBe('model_not_found');
    const upsertUnknown = await call('POST', '/models/Planet/records', { json: { name: 'x' } });
    expect(upsertUnknown.status).toBe(404);
    expect(errorCode(upsertUnknown)).toBe('model_not_found');
  });
});
