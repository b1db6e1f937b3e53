/**
 * Revocation and rotation (docs/operations.md): a revoked key is refused once the authorizer cache expires. The shared
 * test stack runs with AUTHORIZER_CACHE_TTL_SECONDS=2, so "once the cache expires" is 2 seconds here.
 */
import { call, keyStore, unique } from '../support/api-client.js';

const ttlMs = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('revocation and rotation', () => {
  it('keeps serving a cached key until the TTL, then refuses it', async () => {
    const { store, close } = keyStore();
    try {
      const workspace = unique('ws');
      await store.createWorkspace(workspace);
      const oldKey = await store.createApiKey({ workspace, scopes: ['records:read', 'records:write'], name: 'old' });
      // Rotation: a second key is issued and both work.
      const newKey = await store.createApiKey({ workspace, scopes: ['records:read', 'records:write'], name: 'new' });
      expect((await call('POST', '/models/account/records', { json: { name: 'a' }, token: newKey.key })).status).toBe(201);

      // The old key's first use puts it in the gateway's cache. It is revoked straight after, and its next use, well
      // inside the 2 s TTL (the rest of that read and the revocation later), is still answered from the cache, as API
      // Gateway does.
      expect((await call('GET', '/models/account/records/a', { token: oldKey.key })).status).toBe(200);
      await store.revokeToken(oldKey.tokenId);
      expect((await call('GET', '/models/account/records/a', { token: oldKey.key })).status).toBe(200);
      await sleep(ttlMs + 500);
      const refused = await call('GET', '/models/account/records/a', { token: oldKey.key });
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('unauthorized');
      expect((await call('GET', '/models/account/records/a', { token: newKey.key })).status).toBe(200);
    } finally {
      close();
    }
  });
});
