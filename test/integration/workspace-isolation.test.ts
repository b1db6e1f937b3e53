/**
 * SPEC section 2: no request can read or change another workspace's data. With workspace B's key, every route is tried
 * against workspace A's records; a route added to lib/routes.ts without a case here fails the suite.
 */
import { routes } from '../../lib/routes.js';
import { call, unique, workspaceWithKey, type ApiResponse } from '../support/api-client.js';

interface Setting {
  readonly owner: { workspace: string; token: string };
  readonly intruder: { workspace: string; token: string };
  readonly account: string;
  readonly customer: string;
}

const get = (token: string, model: string, id: string) => call('GET', `/models/${model}/records/${encodeURIComponent(id)}`, { token });

/** For each route: what workspace B tries against workspace A's records, and what must hold afterwards. */
const attacks: Record<string, (s: Setting) => Promise<void>> = {
  UpsertRecord: async (s) => {
    // The same id in B is B's own, new record; A's stays as it was.
    const same = await call('POST', '/models/account/records', { json: { name: s.account, owner: 'intruder' }, token: s.intruder.token });
    expect(same.status).toBe(201);
    expect(same.body.version).toBe(1);
    // A link from B to A's account does not see it.
    const link = await call('POST', '/models/customer/records', { json: { email: `x-${s.customer}`, account: `${s.account} only-a` }, token: s.intruder.token });
    expect(link.body.links.account.exists).toBe(false);
  },
  GetRecord: async (s) => {
    const read = await get(s.intruder.token, 'customer', s.customer);
    expect(read.status).toBe(404);
    expect(read.text).not.toContain(s.owner.workspace);
  },
  DeleteRecord: async (s) => {
    expect((await call('DELETE', `/models/customer/records/${encodeURIComponent(s.customer)}`, { token: s.intruder.token })).status).toBe(404);
  },
  GetRecordByQuery: async (s) => {
    expect((await call('GET', `/models/customer/record?id=${encodeURIComponent(s.customer)}`, { token: s.intruder.token })).status).toBe(404);
  },
  DeleteRecordByQuery: async (s) => {
    expect((await call('DELETE', `/models/customer/record?id=${encodeURIComponent(s.customer)}`, { token: s.intruder.token })).status).toBe(404);
  },
};

describe('workspace isolation', () => {
  let setting: Setting;
  let before: { account: ApiResponse; customer: ApiResponse; linked: ApiResponse };

  beforeAll(async () => {
    const owner = await workspaceWithKey(['records:read', 'records:write']);
    const intruder = await workspaceWithKey(['records:read', 'records:write', 'models:write']);
    const account = unique('Owner Co');
    const customer = `${unique('ann')}@owner.example`;
    expect((await call('POST', '/models/account/records', { json: { name: account, secret: 'a' }, token: owner.token })).status).toBe(201);
    expect((await call('POST', '/models/account/records', { json: { name: `${account} only-a` }, token: owner.token })).status).toBe(201);
    expect((await call('POST', '/models/customer/records', { json: { email: customer, account }, token: owner.token })).status).toBe(201);
    setting = { owner, intruder, account, customer };
    before = {
      account: await get(owner.token, 'account', account),
      customer: await get(owner.token, 'customer', customer),
      linked: await get(owner.token, 'account', `${account} only-a`),
    };
  });

  it('has an isolation case for every route that needs a key', () => {
    const protectedRoutes = routes.filter((route) => route.scope !== null).map((route) => route.name);
    expect(Object.keys(attacks).sort()).toEqual(protectedRoutes.sort());
  });

  it.each(Object.keys(attacks))('%s from another workspace neither sees nor changes the records', async (name) => {
    await attacks[name]!(setting);
    for (const [model, id, snapshot] of [
      ['account', setting.account, before.account],
      ['customer', setting.customer, before.customer],
      ['account', `${setting.account} only-a`, before.linked],
    ] as const) {
      const now = await get(setting.owner.token, model, id);
      expect(now.status).toBe(200);
      expect(now.body).toEqual(snapshot.body);
    }
  });

  it('gives a read-only key 403 on every write route, and changes nothing', async () => {
    const reader = await workspaceWithKey(['records:read']);
    const writeRoutes = routes.filter((route) => route.scope === 'records:write' || route.scope === 'models:write');
    expect(writeRoutes.length).toBeGreaterThan(0);
    for (const route of writeRoutes) {
      const path = route.path.replace('{model}', 'account').replace('{id}', 'x') + (route.path.endsWith('/record') ? '?id=x' : '');
      const response = await call(route.method, path, { json: { name: 'x' }, token: reader.token });
      expect([route.name, response.status, response.body?.error?.code]).toEqual([route.name, 403, 'forbidden']);
    }
    expect((await call('GET', '/models/account/records/x', { token: reader.token })).status).toBe(404);
  });
});
