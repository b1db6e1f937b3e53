/** Keys, scopes and workspaces as the handlers see them: identity comes only from the authorizer. */
import { generateApiKey, isWellFormedApiKey } from '../../lib/auth/api-key.js';
import { call, errorCode, unique, workspaceWithKey } from '../support/api-client.js';

describe('scopes', () => {
  it('lets a read-only key read but not write or delete', async () => {
    const { token } = await workspaceWithKey(['records:read']);
    const upsert = await call('POST', '/models/account/records', { json: { name: 'x' }, token });
    expect(upsert.status).toBe(403);
    expect(errorCode(upsert)).toBe('forbidden');
    const del = await call('DELETE', '/models/account/records/x', { token });
    expect(del.status).toBe(403);
    const read = await call('GET', '/models/account/records/x', { token });
    expect(read.status).toBe(404);
  });

  it('lets a write-only key write but not read', async () => {
    const { token } = await workspaceWithKey(['records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: 'x' }, token })).status).toBe(201);
    expect((await call('GET', '/models/account/records/x', { token })).status).toBe(403);
  });

  it('accepts Bearer as well as Token, in any case', async () => {
    const { token } = await workspaceWithKey(['records:read', 'records:write']);
    expect((await call('POST', '/models/account/records', { json: { name: 'b' }, headers: { Authorization: `Bearer ${token}` } })).status).toBe(201);
    expect((await call('GET', '/models/account/records/b', { headers: { Authorization: `token ${token}` } })).status).toBe(200);
  });

  it('refuses a well-formed key that was never issued, and a mistyped real one', async () => {
    const neverIssued = generateApiKey();
    expect(isWellFormedApiKey(neverIssued)).toBe(true);
    expect((await call('GET', '/models/account/records/x', { token: neverIssued })).status).toBe(401);
    const { token } = await workspaceWithKey(['records:read']);
    const mistyped = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    expect((await call('GET', '/models/account/records/x', { token: mistyped })).status).toBe(401);
    // The key as issued is taken for the same request: the refusals above are the keys', not the authorizer's at large.
    expect((await call('GET', '/models/account/records/x', { token })).body).toMatchObject({ error: { code: 'record_not_found' } });
  });
});

describe('workspaces', () => {
  it('keeps the same id in two workspaces apart', async () => {
    const a = await workspaceWithKey(['records:read', 'records:write']);
    const b = await workspaceWithKey(['records:read', 'records:write']);
    const name = unique('shared-name');
    await call('POST', '/models/account/records', { json: { name, owner: 'a' }, token: a.token });
    expect((await call('GET', `/models/account/records/${name}`, { token: b.token })).status).toBe(404);
    const bWrite = await call('POST', '/models/account/records', { json: { name, owner: 'b' }, token: b.token });
    expect(bWrite.status).toBe(201);
    expect((await call('DELETE', `/models/account/records/${name}`, { token: b.token })).status).toBe(204);
    const aRead = await call('GET', `/models/account/records/${name}`, { token: a.token });
    expect(aRead.body).toMatchObject({ version: 1, fields: { owner: 'a' } });
  });

  it('ignores any workspace a client tries to send', async () => {
    const a = await workspaceWithKey(['records:read', 'records:write']);
    const b = await workspaceWithKey(['records:read', 'records:write']);
    const name = unique('spoof');
    // In the query string it is a parameter the route does not take: refused, and nothing written.
    const asParameter = await call('POST', `/models/account/records?workspace=${b.workspace}`, { json: { name }, token: a.token });
    expect([asParameter.status, asParameter.body.error.details[0].field]).toEqual([422, 'workspace']);
    expect((await call('GET', `/models/account/records/${name}`, { token: a.token })).status).toBe(404);
    // In a header it is ignored, and in the body it is a field like any other.
    await call('POST', '/models/account/records', { json: { name, workspace: b.workspace }, headers: { 'X-Workspace': b.workspace }, token: a.token });
    expect((await call('GET', `/models/account/records/${name}`, { token: b.token })).status).toBe(404);
    expect((await call('GET', `/models/account/records/${name}`, { token: a.token })).body.fields.workspace).toBe(b.workspace);
  });
});
