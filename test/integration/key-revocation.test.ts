/**
 * Revocation and rotation (docs/operations.md): a revoked key is refused once the authorizer cache expires. The shared
 * test stack runs with AUTHORIZER_CACHE_TTL_SECONDS=2. That a revoked key is still served while its answer is cached
 * is shown on a stack whose TTL is 300 s (test/integration/dynamodb-faults.test.ts), where it does not depend on timing;
 * the cache's expiry arithmetic is unit-tested with a clock of its own (test/unit/local-gateway-parts.test.ts).
 */
import { call, keyStore, unique } from '../support/api-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('revocation and rotation', () => {
  it('refuses a revoked key once the cache expires, while the key issued beside it keeps working', async () => {
    const { store, close } = keyStore();
    try {
      const workspace = unique('ws');
      await store.createWorkspace(workspace);
      const oldKey = await store.createApiKey({ workspace, scopes: ['records:read', 'records:write'], name: 'old' });
      // Rotation: a second key is issued and both work.
      const newKey = await store.createApiKey({ workspace, scopes: ['records:read', 'records:write'], name: 'new' });
      expect((await call('POST', '/models/account/records', { json: { name: 'a' }, token: newKey.key })).status).toBe(201);
      // The old key's use puts its answer in the gateway's cache; then it is revoked.
      expect((await call('GET', '/models/account/records/a', { token: oldKey.key })).status).toBe(200);
      await store.revokeToken(oldKey.tokenId);
      // Polled, not timed: the refusal must come, and well before the 60 s default TTL, which a gateway that ignored the
      // stage's TTL would use (the deadline is what tells them apart, with room for a slow machine).
      const deadline = Date.now() + 30_000;
      let refused = await call('GET', '/models/account/records/a', { token: oldKey.key });
      while (refused.status !== 401 && Date.now() < deadline) {
        expect(refused.status).toBe(200);
        await sleep(100);
        refused = await call('GET', '/models/account/records/a', { token: oldKey.key });
      }
      expect([refused.status, refused.body.error?.code]).toEqual([401, 'unauthorized']);
      // Once refused, it stays refused; the new key is untouched.
      expect((await call('GET', '/models/account/records/a', { token: oldKey.key })).status).toBe(401);
      expect((await call('GET', '/models/account/records/a', { token: newKey.key })).status).toBe(200);
    } finally {
      close();
    }
  });
});
