/**
 * A table written before the admin's items left the model-definition partition (`W#<workspace>`): its workspaces and
 * keys keep working, and the admin CLI moves each workspace's items to the current layout the first time it touches
 * that workspace (lib/store/workspace-layout-migration.ts). The old items are written here exactly as the admin store
 * wrote them then.
 */
import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { displayPrefix, generateApiKey, generateTokenId, hashApiKey } from '../../lib/auth/api-key.js';
import { ApiKeyStore } from '../../lib/store/api-key-store.js';
import { createDocumentClient, createDynamoDbClient } from '../../lib/store/dynamodb-client.js';
import { adminCli, call, devStack, errorCode, unique } from '../support/api-client.js';

describe('a table written before the current layout of workspaces and keys', () => {
  const stack = devStack();
  const raw = createDynamoDbClient({ endpoint: stack.dynamodbEndpoint });
  const client = createDocumentClient(raw);
  const TableName = stack.tableName;

  afterAll(() => raw.destroy());

  /** A workspace and its keys as the admin store wrote them before the move. */
  async function legacyWorkspace(keyCount: number) {
    const workspace = unique('legacy');
    const usageKey = `uk_legacy${workspace.replace(/-/g, '')}`;
    const createdAt = '2026-11-01T10:00:00.000Z';
    await client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { pk: `W#${workspace}`, sk: 'W', workspace, created_at: createdAt, usage_key: usageKey } } },
          { Put: { TableName, Item: { pk: 'WORKSPACES', sk: workspace, workspace, created_at: createdAt } } },
        ],
      }),
    );
    const keys: { key: string; tokenId: string; name: string }[] = [];
    for (let i = 0; i < keyCount; i += 1) {
      const key = generateApiKey();
      const keyHash = hashApiKey(key);
      const tokenId = generateTokenId();
      const name = `old key ${i}`;
      const common = { token_id: tokenId, workspace, scopes: ['records:read', 'records:write', 'models:write'], name, created_at: createdAt, prefix: displayPrefix(key) };
      await client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName, Item: { pk: `K#${keyHash}`, sk: 'K', ...common, usage_key: usageKey } } },
            { Put: { TableName, Item: { pk: `W#${workspace}`, sk: `T#${tokenId}`, ...common, key_hash: keyHash } } },
            { Put: { TableName, Item: { pk: `T#${tokenId}`, sk: 'T', workspace, key_hash: keyHash } } },
          ],
        }),
      );
      keys.push({ key, tokenId, name });
    }
    return { workspace, usageKey, keys };
  }

  const partition = async (pk: string) =>
    ((await client.send(new QueryCommand({ TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true })))
      .Items ?? []) as Record<string, unknown>[];
  const registryItem = async (workspace: string) =>
    (await client.send(new GetCommand({ TableName, Key: { pk: 'WORKSPACES', sk: workspace }, ConsistentRead: true }))).Item;

  it('keeps its keys working over HTTP before and after the move, and keeps its model definitions where the API reads them', async () => {
    const { workspace, keys } = await legacyWorkspace(1);
    const token = keys[0]!.key;
    expect((await call('PUT', '/models/plan', { token, json: { unique_field: 'code' } })).status).toBe(201);
    expect((await call('POST', '/models/plan/records', { token, json: { code: 'gold' } })).status).toBe(201);
    expect((await adminCli(['token', 'list', '--workspace', workspace])).code).toBe(0);
    // Moved: only the model definition, and the count of definition writes beside it, are left in the model-definition
    // partition.
    expect((await partition(`W#${workspace}`)).map((item) => item.sk)).toEqual(['C#models', 'M#plan']);
    const read = await call('GET', '/models/plan/records/gold', { token });
    expect([read.status, read.body?.fields]).toEqual([200, { code: 'gold' }]);
    const missing = await call('GET', '/models/plan/records/silver', { token });
    expect([missing.status, errorCode(missing)]).toEqual([404, 'record_not_found']);
  });

  it('lists its keys from token list, having moved them and the usage key out of the model-definition partition', async () => {
    const { workspace, usageKey, keys } = await legacyWorkspace(2);
    expect(await registryItem(workspace)).not.toHaveProperty('usage_key');
    const listed = await adminCli(['token', 'list', '--workspace', workspace, '--json']);
    expect(listed.code).toBe(0);
    const tokens = JSON.parse(listed.stdout) as { id: string; name: string; scopes: string[]; prefix: string; revoked_at: string | null }[];
    expect(tokens.map(({ id, name, prefix, revoked_at }) => ({ id, name, prefix, revoked_at })).sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      keys.map(({ tokenId, name, key }) => ({ id: tokenId, name, prefix: displayPrefix(key), revoked_at: null })),
    );
    expect(await partition(`W#${workspace}`)).toEqual([]);
    expect((await partition(`KEYS#${workspace}`)).map((item) => item.sk).sort()).toEqual(keys.map(({ tokenId }) => `T#${tokenId}`).sort());
    expect(await registryItem(workspace)).toMatchObject({ workspace, created_at: '2026-11-01T10:00:00.000Z', usage_key: usageKey });
  });

  it('gives a key made after the move the usage key the workspace had before it', async () => {
    const { workspace, usageKey } = await legacyWorkspace(0);
    const created = await adminCli(['token', 'create', '--workspace', workspace, '--scopes', 'records:read', '--json']);
    expect(created.code).toBe(0);
    const { key } = JSON.parse(created.stdout) as { key: string };
    const store = new ApiKeyStore(client, TableName);
    expect((await store.findByHash(hashApiKey(key)))?.usageKey).toBe(usageKey);
    expect((await call('GET', '/models/account/records/nobody', { token: key })).status).toBe(404);
  });

  it('revokes a key of a workspace no command has touched since the move', async () => {
    const { workspace, keys } = await legacyWorkspace(2);
    const revoked = await adminCli(['token', 'revoke', keys[0]!.tokenId]);
    expect(revoked.code).toBe(0);
    const store = new ApiKeyStore(client, TableName);
    expect(await store.findByHash(hashApiKey(keys[0]!.key))).toBeUndefined();
    expect(await store.findByHash(hashApiKey(keys[1]!.key))).toBeDefined();
    const tokens = await store.listTokens(workspace);
    expect(tokens.map(({ id, revoked_at }) => [id, revoked_at === null]).sort()).toEqual(
      [
        [keys[0]!.tokenId, false],
        [keys[1]!.tokenId, true],
      ].sort(),
    );
    expect(await partition(`W#${workspace}`)).toEqual([]);
  });

  it('moves a workspace once when several commands reach it at the same time, however many keys it has', async () => {
    const { workspace, usageKey, keys } = await legacyWorkspace(100);
    const stores = [0, 1, 2, 3].map(() => new ApiKeyStore(client, TableName));
    // Two listings, a lookup of the usage key, and a revocation: each moves the workspace first.
    const [listed, , usage, revoked] = await Promise.all([
      stores[0]!.listTokens(workspace),
      stores[1]!.listTokens(workspace),
      stores[2]!.usageKeyOf(workspace),
      stores[3]!.revokeToken(keys[7]!.tokenId),
    ]);
    expect(listed.map(({ id }) => id).sort()).toEqual(keys.map(({ tokenId }) => tokenId).sort());
    expect([usage, revoked.workspace]).toEqual([usageKey, workspace]);
    expect(await partition(`W#${workspace}`)).toEqual([]);
    const moved = await partition(`KEYS#${workspace}`);
    expect(moved).toHaveLength(keys.length);
    // Each listing item whole: the same attributes as before the move, under its new key; the revoked one revoked.
    for (const item of moved) {
      const key = keys.find(({ tokenId }) => item.sk === `T#${tokenId}`)!;
      expect(item).toEqual({
        pk: `KEYS#${workspace}`,
        sk: `T#${key.tokenId}`,
        token_id: key.tokenId,
        workspace,
        scopes: ['records:read', 'records:write', 'models:write'],
        name: key.name,
        created_at: '2026-11-01T10:00:00.000Z',
        prefix: displayPrefix(key.key),
        key_hash: hashApiKey(key.key),
        ...(key === keys[7] ? { revoked_at: revoked.revokedAt } : {}),
      });
    }
  });

  it('finishes a half-done move without undoing what was done, and copies no listing item that no key of the workspace has', async () => {
    const { workspace, usageKey, keys } = await legacyWorkspace(3);
    const [done, doneTwice, notYet] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0]];
    const legacyListing = async (tokenId: string) => (await client.send(new GetCommand({ TableName, Key: { pk: `W#${workspace}`, sk: `T#${tokenId}` } }))).Item!;
    // One listing moved (its old item gone); one whose copy exists and was revoked there while its old item was left.
    const doneItem = await legacyListing(done.tokenId);
    const doneTwiceItem = await legacyListing(doneTwice.tokenId);
    await client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { ...doneItem, pk: `KEYS#${workspace}` } } },
          { Delete: { TableName, Key: { pk: `W#${workspace}`, sk: `T#${done.tokenId}` } } },
          { Put: { TableName, Item: { ...doneTwiceItem, pk: `KEYS#${workspace}`, revoked_at: '2026-11-02T00:00:00.000Z' } } },
        ],
      }),
    );
    // And an item planted in the old partition, as a defective API function could have: no key's lookup item has it.
    const planted = { ...doneItem, sk: 'T#tok_planted000000000', token_id: 'tok_planted000000000', name: 'planted' };
    await client.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName, Item: planted } }] }));

    const migrated = await adminCli(['workspace', 'migrate', '--json']);
    expect(migrated.code).toBe(0);
    // Other workspaces of this file may be moved by the same run; this one's counts are checked in the table below.
    expect(JSON.parse(migrated.stdout)).toMatchObject({ workspaces: expect.any(Number), keys_moved: expect.any(Number), listings_skipped: 1 });
    const moved = await partition(`KEYS#${workspace}`);
    expect(moved.map((item) => [item.sk, item.revoked_at ?? null]).sort()).toEqual(
      [
        [`T#${done.tokenId}`, null],
        [`T#${doneTwice.tokenId}`, '2026-11-02T00:00:00.000Z'],
        [`T#${notYet.tokenId}`, null],
      ].sort(),
    );
    expect((await partition(`W#${workspace}`)).map((item) => item.sk)).toEqual(['T#tok_planted000000000']);
    expect(await registryItem(workspace)).toMatchObject({ usage_key: usageKey });
    expect((await new ApiKeyStore(client, TableName).listTokens(workspace)).map(({ name }) => name).sort()).toEqual(keys.map(({ name }) => name).sort());
    // Nothing is left to move, and a second run says so.
    const again = await adminCli(['workspace', 'migrate']);
    expect(again).toMatchObject({ code: 0, stdout: 'Every workspace is in the current layout already\n' });
  });
});
