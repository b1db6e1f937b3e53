/** SPEC section 4, listing: pages with an opaque cursor; a full walk returns every record exactly once. */
import { encodeCursor } from '../../lib/records/cursor.js';
import { call, errorCode, workspaceWithKey } from '../support/api-client.js';

async function walk(token: string, path: string, limit: number) {
  const seen: string[] = [];
  let pages = 0;
  let cursor: string | null = null;
  do {
    const response = await call('GET', `${path}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
    expect(response.status).toBe(200);
    expect(response.body.records.length).toBeLessThanOrEqual(limit);
    seen.push(...response.body.records.map((r: { id: string }) => r.id));
    cursor = response.body.next_cursor;
    pages += 1;
  } while (cursor);
  return { seen, pages };
}

describe('listing records', () => {
  let token: string;
  let workspace: string;
  const ids = Array.from({ length: 230 }, (_, i) => `acct-${String(i).padStart(4, '0')}`);

  beforeAll(async () => {
    ({ token, workspace } = await workspaceWithKey(['records:read', 'records:write']));
    const response = await call('POST', '/models/account/batch', { json: { records: ids.map((name, i) => ({ name, n: i })) }, token });
    expect(response.body.results.every((r: { status: number }) => r.status === 201)).toBe(true);
  });

  it('returns every record exactly once across the pages of a full walk', async () => {
    const { seen, pages } = await walk(token, '/models/account/records', 37);
    expect(seen).toHaveLength(ids.length);
    expect(new Set(seen)).toEqual(new Set(ids));
    // Every page but the last is full, and the last says the walk is over: no empty page at the end.
    expect(pages).toBe(Math.ceil(ids.length / 37));
  });

  it('ends the walk on a page exactly as long as what is left (next_cursor null, not an empty page after it)', async () => {
    // 230 records: 10 pages of 23, 2 of 115, 1 of 230.
    for (const limit of [23, 115, 230]) expect([limit, (await walk(token, '/models/account/records', limit)).pages]).toEqual([limit, ids.length / limit]);
  });

  it('returns the record envelope and defaults to 100 per page', async () => {
    const page = await call('GET', '/models/account/records', { token });
    expect(page.body.records).toHaveLength(100);
    expect(page.body.records[0]).toEqual({
      model: 'account',
      id: expect.any(String),
      version: 1,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      fields: { name: expect.any(String), n: expect.any(Number) },
      links: {},
    });
    expect(typeof page.body.next_cursor).toBe('string');
    const all = await call('GET', '/models/account/records?limit=1000', { token });
    expect(all.body.records).toHaveLength(ids.length);
    expect(all.body.next_cursor).toBeNull();
  });

  it('returns each record exactly once while records are written during the walk', async () => {
    const created: string[] = [];
    const statuses: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let round = 0; writing && round < 200; round += 1) {
        const name = `new-${String(round).padStart(4, '0')}`;
        await Promise.all([
          call('POST', '/models/account/records', { json: { name }, token }).then((r) => {
            statuses.push(r.status);
            created.push(name);
          }),
          call('POST', '/models/account/records', { json: { name: ids[(round * 7) % ids.length], touched: round }, token }).then((r) => statuses.push(r.status)),
        ]);
      }
    })();
    // The walk starts once writes are landing, so it does run while records are written.
    while (created.length === 0) await new Promise((r) => setTimeout(r, 5));
    const writtenBeforeWalk = created.length;
    const { seen } = await walk(token, '/models/account/records', 13);
    const writtenDuringWalk = created.length - writtenBeforeWalk;
    writing = false;
    await writer;
    expect(statuses.every((status) => status === 200 || status === 201)).toBe(true);
    expect(writtenDuringWalk).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);
    expect(seen.filter((id) => !ids.includes(id)).every((id) => created.includes(id))).toBe(true);
  });

  it.each([['0'], ['1001'], ['-1'], ['ten'], ['1.5']])('refuses limit=%s with a 422', async (limit) => {
    const response = await call('GET', `/models/account/records?limit=${limit}`, { token });
    expect(response.status).toBe(422);
    expect(response.body.error.details).toEqual([{ field: 'limit', issue: expect.any(String) }]);
  });

  it('refuses a cursor it did not make, or one from another list, with a 422', async () => {
    const accountCursor = (await call('GET', '/models/account/records?limit=1', { token })).body.next_cursor;
    for (const cursor of ['garbage', Buffer.from('{"v":1,"l":"records:account","p":{"shard":99}}').toString('base64url')]) {
      const response = await call('GET', `/models/account/records?cursor=${cursor}`, { token });
      expect(response.status).toBe(422);
      expect(errorCode(response)).toBe('validation_failed');
    }
    expect((await call('GET', `/models/customer/records?cursor=${accountCursor}`, { token })).status).toBe(422);
    // The list's own cursor with characters added, which a lenient base64 decoder would skip: not the cursor it sent.
    expect((await call('GET', `/models/account/records?cursor=${accountCursor}`, { token })).status).toBe(200);
    const added = [`${accountCursor}..`, `..${accountCursor}`, `${accountCursor.slice(0, 4)}%20${accountCursor.slice(4)}`, `${accountCursor}%3D`];
    for (const cursor of added) expect([cursor, (await call('GET', `/models/account/records?cursor=${cursor}`, { token })).status]).toEqual([cursor, 422]);
  });

  it("refuses another workspace's cursor for the same list with a 422, instead of silently skipping records", async () => {
    const other = await workspaceWithKey(['records:read', 'records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: 'acct-0000' }, token: other.token })).status).toBe(201);
    const cursor = (await call('GET', '/models/account/records?limit=1', { token })).body.next_cursor;
    expect(typeof cursor).toBe('string');
    const response = await call('GET', `/models/account/records?cursor=${cursor}`, { token: other.token });
    expect(response.status).toBe(422);
    expect(response.body.error.details).toEqual([{ field: 'cursor', issue: expect.any(String) }]);
  });

  it('refuses with a 422, not a 500, a forged cursor whose position DynamoDB would refuse (empty, over 1,024 bytes) or no id can hold (a lone surrogate)', async () => {
    const forged = (list: string, position: unknown) => encodeCursor({ workspace, list }, position);
    const cursors: [string, string][] = [
      ['/models/account/records', forged('records:account', { shard: 0, after: '' })],
      ['/models/account/records', forged('records:account', { shard: 0, after: 'x'.repeat(1025) })],
      ['/models/account/records', forged('records:account', { shard: 0, after: 'é'.repeat(513) })],
      ['/models/account/records/Acme/customers', forged('links:account:Acme:customer', '')],
      ['/models/account/records/Acme/customers', forged('links:account:Acme:customer', 'y'.repeat(3000))],
      // The store resumes after "customer#<position>" and a NUL: 10 bytes more, so 1,015 bytes are already too many.
      ['/models/account/records/Acme/customers', forged('links:account:Acme:customer', 'y'.repeat(1015))],
      ['/models/account/records', forged('records:account', { shard: 0, after: 'a\ud800' })],
      ['/models/account/records/Acme/customers', forged('links:account:Acme:customer', '\udc00b')],
    ];
    for (const [path, cursor] of cursors) {
      const response = await call('GET', `${path}?cursor=${cursor}`, { token });
      expect([path, cursor, response.status, errorCode(response)]).toEqual([path, cursor, 422, 'validation_failed']);
    }
    // The longest position a real cursor can hold (an id of 1,024 bytes) is still a cursor.
    const longest = await call('GET', `/models/account/records?cursor=${forged('records:account', { shard: 0, after: 'z'.repeat(1024) })}`, { token });
    expect(longest.status).toBe(200);
    const longestLink = await call('GET', `/models/account/records/Acme/customers?cursor=${forged('links:account:Acme:customer', 'z'.repeat(1014))}`, { token });
    expect(longestLink.status).toBe(200);
  });

  it('answers an unknown model with a 404', async () => {
    expect((await call('GET', '/models/nothing/records', { token })).status).toBe(404);
  });
});

describe('pages of large records', () => {
  // A page stops at about 4 MB of records, to fit one response: 14 records of 330 KB do not fit in one page.
  const blob = 'x'.repeat(330 * 1024);

  async function walkAll(token: string, path: string) {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const response = await call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
      expect(response.status).toBe(200);
      pages.push(response.body.records.map((r: { id: string }) => r.id));
      cursor = response.body.next_cursor;
    } while (cursor);
    return pages;
  }

  it('splits a listing by size, and the walk still returns every record once', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const names = Array.from({ length: 14 }, (_, i) => `big-${String(i).padStart(2, '0')}`);
    for (const name of names) expect((await call('POST', '/models/account/records', { json: { name, blob }, token })).status).toBe(201);
    const pages = await walkAll(token, '/models/account/records');
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.every((page) => page.length > 0 && page.length < names.length)).toBe(true);
    expect(pages.flat().sort()).toEqual(names);
  });

  it('weighs a page as it travels in Lambda\'s response, where every quote is escaped again, so it stays under 6 MB', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    // 300 KB of quotes: 600 KB in the page's JSON, 1.2 MB once the page is a string inside the function's result.
    const quotes = '"'.repeat(300 * 1024);
    const names = Array.from({ length: 8 }, (_, i) => `quoted-${i}`);
    for (const name of names) expect((await call('POST', '/models/account/records', { json: { name, quotes }, token })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await call('GET', `/models/account/records?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
      expect(response.status).toBe(200);
      // The whole result as Lambda would serialize it (the local gateway answers 502 past 6 MB, as API Gateway does).
      expect(Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: {}, body: response.text }))).toBeLessThan(6 * 1024 * 1024);
      seen.push(...response.body.records.map((r: { id: string }) => r.id));
      cursor = response.body.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual(names);
  });

  it('weighs the link ids each envelope repeats under links, so a page of linked customers stays under 6 MB', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    // An account name of 1,024 quotes: 2 KB in each customer's fields and again in its links, each doubled by Lambda.
    const account = '"'.repeat(1024);
    const records = Array.from({ length: 1000 }, (_, i) => ({ email: `linked-${String(i).padStart(4, '0')}@x.io`, account }));
    const batch = await call('POST', '/models/customer/batch', { json: { records }, token });
    expect(batch.body.results.every((r: { status: number }) => r.status === 201)).toBe(true);
    for (const path of ['/models/customer/records', `/models/account/record/customers?id=${encodeURIComponent(account)}`]) {
      let cursor: string | null = null;
      let count = 0;
      do {
        const response = await call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
        expect([path, response.status]).toEqual([path, 200]);
        expect(Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: {}, body: response.text }))).toBeLessThan(6 * 1024 * 1024);
        count += response.body.records.length;
        cursor = response.body.next_cursor;
      } while (cursor);
      expect([path, count]).toEqual([path, 1000]);
    }
  });

  it("splits an account's customers by size the same way", async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const emails = Array.from({ length: 14 }, (_, i) => `big-${String(i).padStart(2, '0')}@x.io`);
    for (const email of emails) expect((await call('POST', '/models/customer/records', { json: { email, account: 'Heavy', blob }, token })).status).toBe(201);
    const pages = await walkAll(token, '/models/account/records/Heavy/customers');
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.every((page) => page.length > 0 && page.length < emails.length)).toBe(true);
    expect(pages.flat()).toEqual(emails);
  });
});

describe("an account's customers", () => {
  it('lists the customers linked to an account, paginated, following links and unlinks', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    const customers = ['a@x.io', 'b@x.io', 'c@x.io'];
    await call('POST', '/models/customer/batch', {
      json: { records: [...customers.map((email) => ({ email, account: 'Acme' })), { email: 'd@x.io', account: 'Other' }, { email: 'e@x.io' }] },
      token,
    });
    const first = await call('GET', '/models/account/records/Acme/customers?limit=2', { token });
    expect(first.status).toBe(200);
    expect(first.body.records.map((r: { id: string }) => r.id)).toEqual(['a@x.io', 'b@x.io']);
    // The account was never synced: the customers are listed, their link says it does not exist.
    expect(first.body.records[0].links).toEqual({ account: { id: 'Acme', exists: false } });
    const second = await call('GET', `/models/account/records/Acme/customers?limit=2&cursor=${first.body.next_cursor}`, { token });
    expect(second.body.records.map((r: { id: string }) => r.id)).toEqual(['c@x.io']);
    expect(second.body.next_cursor).toBeNull();
    // A page exactly as long as the list ends it.
    const exact = await call('GET', '/models/account/records/Acme/customers?limit=3', { token });
    expect(exact.body.records).toHaveLength(3);
    expect(exact.body.next_cursor).toBeNull();

    await call('POST', '/models/account/records', { json: { name: 'Acme' }, token });
    await call('POST', '/models/customer/records', { json: { email: 'a@x.io', account: null }, token });
    await call('POST', '/models/customer/records', { json: { email: 'b@x.io', account: 'Other' }, token });
    const after = await call('GET', '/models/account/records/Acme/customers', { token });
    expect(after.body.records.map((r: { id: string }) => r.id)).toEqual(['c@x.io']);
    expect(after.body.records[0].links.account).toEqual({ id: 'Acme', exists: true });
    const other = await call('GET', '/models/account/records/Other/customers', { token });
    expect(other.body.records.map((r: { id: string }) => r.id)).toEqual(['b@x.io', 'd@x.io']);
  });

  it('refuses a query parameter a listing does not take (it has no filters) with a 422 naming it, instead of listing everything', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    await call('POST', '/models/customer/batch', { json: { records: [{ email: 'f1@x.io', account: 'Acme' }, { email: 'f2@x.io', account: 'Initech' }] }, token });
    const filtered = await call('GET', '/models/customer/records?account=Acme&limit=2', { token });
    expect([filtered.status, errorCode(filtered)]).toEqual([422, 'validation_failed']);
    expect(filtered.body.error.details).toEqual([{ field: 'account', issue: 'unknown query parameter; this route takes "limit", "cursor"' }]);
    const two = await call('GET', '/models/account/records/Acme/customers?id=Acme&email=f1@x.io', { token });
    expect(two.status).toBe(422);
    expect(two.body.error.details.map((d: { field: string }) => d.field)).toEqual(['id', 'email']);
    // The query form of the customers listing takes its account's id there.
    const byQuery = await call('GET', '/models/account/record/customers?id=Acme&limit=5', { token });
    expect([byQuery.status, byQuery.body.records.map((r: { id: string }) => r.id)]).toEqual([200, ['f1@x.io']]);
    // GET /models answers every model at once: a page or a filter asked of it is refused, not answered with all of them.
    const paged = await call('GET', '/models?limit=1', { token });
    expect([paged.status, paged.body.error?.details]).toEqual([422, [{ field: 'limit', issue: 'unknown query parameter; this route takes no query parameters' }]]);
    expect((await call('GET', '/models', { token })).status).toBe(200);
    expect((await call('GET', '/models/account/record/customers?id=Acme&sort=email', { token })).status).toBe(422);
    expect((await call('GET', '/models/customer/records?limit=1', { token })).status).toBe(200);
  });

  it('refuses a query parameter on every route that takes none, and changes nothing: an option is never silently ignored', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write', 'models:write']);
    expect((await call('PUT', '/models/gizmo', { json: { unique_field: 'sku' }, token })).status).toBe(201);
    expect((await call('POST', '/models/gizmo/records', { json: { sku: 'g1' }, token })).status).toBe(201);
    const refused: [string, string, unknown?][] = [
      ['DELETE', '/models/gizmo?force=true'],
      ['PUT', '/models/gizmo?x=1', { unique_field: 'other' }],
      ['GET', '/models/gizmo?x=1'],
      ['POST', '/models/gizmo/records?dry_run=true', { sku: 'g2' }],
      ['GET', '/models/gizmo/records/g1?fields=sku'],
      ['DELETE', '/models/gizmo/records/g1?soft=true'],
      ['DELETE', '/models/gizmo/record?id=g1&soft=true'],
      ['POST', '/models/gizmo/batch?atomic=true', { delete: ['g1'] }],
    ];
    for (const [method, path, json] of refused) {
      const answer = await call(method, path, { token, ...(json !== undefined ? { json } : {}) });
      expect([method, path, answer.status, errorCode(answer)]).toEqual([method, path, 422, 'validation_failed']);
      expect([method, path, answer.body.error.details[0].issue]).toEqual([method, path, expect.stringMatching(/^unknown query parameter; this route takes /)]);
    }
    // Nothing was written, deleted or redefined.
    const model = await call('GET', '/models/gizmo', { token });
    expect(model.body.unique_field).toBe('sku');
    expect((await call('GET', '/models/gizmo/records/g1', { token })).body.version).toBe(1);
    expect((await call('GET', '/models/gizmo/records/g2', { token })).status).toBe(404);
    // Public routes take any (a cache-busting parameter on a health check).
    expect((await call('GET', '/health?ts=1')).status).toBe(200);
  });

  it('answers the route for a model nothing links to with a 404', async () => {
    const { token } = await workspaceWithKey(['records:read']);
    // Whatever the id, a record that could exist or one that could not: there is no such listing.
    for (const id of ['a@x.io', 'not-an-email']) {
      const response = await call('GET', `/models/customer/records/${id}/customers`, { token });
      expect([id, response.status, errorCode(response)]).toEqual([id, 404, 'route_not_found']);
    }
  });
});
