/**
 * SPEC section 2: no request can read or change another workspace's data. With workspace B's key, every route is tried
 * against workspace A's records; a route added to lib/routes.ts without a case here fails the suite.
 */
import { routes } from '../../lib/routes.js';
import { call, unique, workspaceWithKey, type ApiResponse } from '../support/api-client.js';

interface Setting {
  readonly owner: { workspace: string; token: string };
  readonly account: string;
  readonly customer: string;
  readonly customModel: string;
}

const get = (token: string, model: string, id: string) => call('GET', `/models/${model}/records/${encodeURIComponent(id)}`, { token });

/** For each route: what workspace B tries against workspace A's records, and what must hold afterwards. */
const attacks: Record<string, (s: Setting & { readonly intruder: { workspace: string; token: string } }) => Promise<void>> = {
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
  ListRecords: async (s) => {
    // The intruder's own record under the id of A's account: its listing holds exactly that one, never A's records.
    expect((await call('POST', '/models/account/records', { json: { name: s.account, mine: true }, token: s.intruder.token })).status).toBe(201);
    const accounts = await call('GET', '/models/account/records?limit=1000', { token: s.intruder.token });
    expect([accounts.status, accounts.body.records.map((r: { id: string; fields: unknown }) => [r.id, r.fields])]).toEqual([
      200,
      [[s.account, { name: s.account, mine: true }]],
    ]);
    const customers = await call('GET', '/models/customer/records?limit=1000', { token: s.intruder.token });
    expect([customers.status, customers.body.records]).toEqual([200, []]);
    expect((await call('GET', `/models/${s.customModel}/records`, { token: s.intruder.token })).status).toBe(404);
  },
  ListLinkedCustomers: async (s) => {
    const page = await call('GET', `/models/account/records/${encodeURIComponent(s.account)}/customers`, { token: s.intruder.token });
    expect(page.status).toBe(200);
    expect(page.body.records).toEqual([]);
  },
  ListLinkedCustomersByQuery: async (s) => {
    const page = await call('GET', `/models/account/record/customers?id=${encodeURIComponent(s.account)}`, { token: s.intruder.token });
    expect(page.status).toBe(200);
    expect(page.body.records).toEqual([]);
  },
  BatchRecords: async (s) => {
    const batch = await call('POST', '/models/customer/batch', {
      json: { records: [{ email: s.customer, account: 'elsewhere' }], delete: [s.customer] },
      token: s.intruder.token,
    });
    expect(batch.status).toBe(200);
    expect(batch.body.results.map((r: { status: number }) => r.status)).toEqual([201, 204]);
  },
  ListModels: async (s) => {
    const list = await call('GET', '/models', { token: s.intruder.token });
    expect(list.status).toBe(200);
    expect(list.body.models.map((m: { name: string }) => m.name)).not.toContain(s.customModel);
  },
  GetModel: async (s) => {
    expect((await call('GET', `/models/${s.customModel}`, { token: s.intruder.token })).status).toBe(404);
  },
  DefineModel: async (s) => {
    const own = await call('PUT', `/models/${s.customModel}`, { json: { unique_field: 'other_id' }, token: s.intruder.token });
    expect(own.status).toBe(201);
    expect((await call('PUT', '/models/account', { json: { fields: { secret: { type: 'number' } } }, token: s.intruder.token })).status).toBe(200);
  },
  DeleteModel: async (s) => {
    // With no model of that name of its own, the intruder deletes nothing; with one, it deletes its own, never the owner's.
    expect((await call('DELETE', `/models/${s.customModel}`, { token: s.intruder.token })).status).toBe(404);
    expect((await call('PUT', `/models/${s.customModel}`, { json: { unique_field: 'other_id' }, token: s.intruder.token })).status).toBe(201);
    expect((await call('DELETE', `/models/${s.customModel}`, { token: s.intruder.token })).status).toBe(204);
    expect((await call('DELETE', `/models/${s.customModel}`, { token: s.intruder.token })).status).toBe(404);
  },
};

describe('workspace isolation', () => {
  let setting: Setting;
  let before: { account: ApiResponse; customer: ApiResponse; linked: ApiResponse; model: ApiResponse; models: ApiResponse; subscription: ApiResponse };

  beforeAll(async () => {
    const owner = await workspaceWithKey(['records:read', 'records:write', 'models:write']);
    const account = unique('Owner Co');
    const customer = `${unique('ann')}@owner.example`;
    expect((await call('POST', '/models/account/records', { json: { name: account, secret: 'a' }, token: owner.token })).status).toBe(201);
    expect((await call('POST', '/models/account/records', { json: { name: `${account} only-a` }, token: owner.token })).status).toBe(201);
    expect((await call('POST', '/models/customer/records', { json: { email: customer, account }, token: owner.token })).status).toBe(201);
    const customModel = 'subscription';
    expect((await call('PUT', `/models/${customModel}`, { json: { unique_field: 'external_id', fields: { price: { type: 'number' } } }, token: owner.token })).status).toBe(201);
    expect((await call('PUT', '/models/account', { json: { fields: { tier: { type: 'string' } } }, token: owner.token })).status).toBe(200);
    expect((await call('POST', `/models/${customModel}/records`, { json: { external_id: 'sub-1', price: 10 }, token: owner.token })).status).toBe(201);
    setting = { owner, account, customer, customModel };
    before = {
      account: await get(owner.token, 'account', account),
      customer: await get(owner.token, 'customer', customer),
      linked: await get(owner.token, 'account', `${account} only-a`),
      model: await call('GET', `/models/${customModel}`, { token: owner.token }),
      models: await call('GET', '/models', { token: owner.token }),
      subscription: await get(owner.token, customModel, 'sub-1'),
    };
  });

  it('has an isolation case for every route that needs a key', () => {
    const protectedRoutes = routes.filter((route) => route.scope !== null).map((route) => route.name);
    expect(Object.keys(attacks).sort()).toEqual(protectedRoutes.sort());
  });

  it.each(Object.keys(attacks))('%s from another workspace neither sees nor changes the records', async (name) => {
    // A fresh intruder for each case, so no case depends on what another one made in the intruder's workspace.
    const intruder = await workspaceWithKey(['records:read', 'records:write', 'models:write']);
    await attacks[name]!({ ...setting, intruder });
    for (const [model, id, snapshot] of [
      ['account', setting.account, before.account],
      ['customer', setting.customer, before.customer],
      ['account', `${setting.account} only-a`, before.linked],
    ] as const) {
      const now = await get(setting.owner.token, model, id);
      expect(now.status).toBe(200);
      expect(now.body).toEqual(snapshot.body);
    }
    expect((await call('GET', `/models/${setting.customModel}`, { token: setting.owner.token })).body).toEqual(before.model.body);
    expect((await call('GET', '/models', { token: setting.owner.token })).body).toEqual(before.models.body);
    expect((await get(setting.owner.token, setting.customModel, 'sub-1')).body).toEqual(before.subscription.body);
    const customers = await call('GET', `/models/account/records/${encodeURIComponent(setting.account)}/customers`, { token: setting.owner.token });
    expect(customers.body.records.map((r: { id: string }) => r.id)).toEqual([setting.customer]);
  });

  it('gives a read-only key 403 on every write route, and changes nothing', async () => {
    const reader = await workspaceWithKey(['records:read']);
    const writeRoutes = routes.filter((route) => route.scope === 'records:write' || route.scope === 'models:write');
    expect(writeRoutes.length).toBeGreaterThan(0);
    for (const route of writeRoutes) {
      const path = route.path.replace('{model}', 'account').replace('{id}', 'x') + (route.path.endsWith('/record') ? '?id=x' : '');
      // A read-only key may list, but not write: the request below is refused before any body is read.
      const response = await call(route.method, path, { json: { name: 'x' }, token: reader.token });
      expect([route.name, response.status, response.body?.error?.code]).toEqual([route.name, 403, 'forbidden']);
    }
    expect((await call('GET', '/models/account/records/x', { token: reader.token })).status).toBe(404);
  });
});
