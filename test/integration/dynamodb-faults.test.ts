/**
 * Faults toward DynamoDB, injected by the fault proxy (lib/local/fault-proxy.ts) in front of DynamoDB Local, which
 * answers with DynamoDB's own error responses, and a real kill of DynamoDB Local under load. This suite starts its own
 * local stack (`npm start` with GATHER_FAULT_PROXY=1), so its faults touch no other test. The same proxy counts the
 * calls it forwards, so the suite also checks what each request costs in DynamoDB calls (SPEC: one write per upsert,
 * no read before it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { generateApiKey, hashApiKey } from '../../lib/auth/api-key.js';
import type { DevStackInfo } from '../../lib/local/local-stack.js';
import { ApiKeyStore } from '../../lib/store/api-key-store.js';
import { createDocumentClient, createDynamoDbClient } from '../../lib/store/dynamodb-client.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import type { FaultRule, ProxyStats } from '../../lib/local/fault-proxy.js';
import { routes } from '../../lib/routes.js';
import { runScenario } from '../../lib/smoke/scenario.js';
import { apiFunctionItemPrefixes } from '../../lib/store/keys.js';
import { idempotencyTableName, tableDefinition } from '../../lib/store/table-definition.js';

describe('faults toward DynamoDB', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gather-faults-'));
  let child: ChildProcess;
  let info: DevStackInfo;
  let restarted: DynamoDbLocal | undefined;
  const statuses: number[] = [];

  const api = async (method: string, path: string, json?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(info.baseUrl + path, {
      method,
      headers: { Authorization: `Token ${info.token}`, ...(json !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
    const text = await response.text();
    statuses.push(response.status);
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
  const faults = (rule?: FaultRule) =>
    fetch(info.faultControlUrl!, rule ? { method: 'POST', body: JSON.stringify(rule) } : { method: 'DELETE' }).then((r) => r.json() as Promise<ProxyStats>);
  const proxyStats = () => fetch(info.faultControlUrl!).then((r) => r.json() as Promise<ProxyStats>);
  /** The DynamoDB calls one request made, by operation, from the proxy's counts before and after it. */
  const callsOf = async (request: () => Promise<unknown>): Promise<Record<string, number>> => {
    const before = (await proxyStats()).operations;
    await request();
    const after = (await proxyStats()).operations;
    return Object.fromEntries(Object.entries(after).map(([op, n]) => [op, n - (before[op] ?? 0)]).filter(([, n]) => n !== 0));
  };

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'lib/local/start.ts'], {
      // The last-use write may take 1.5 s here (a loaded CI machine), still less than one attempt's 2 s: a stalled one
      // is given up within its first attempt.
      env: { ...process.env, PORT: '0', DATA_DIR: dataDir, GATHER_FAULT_PROXY: '1', AUTHORIZER_CACHE_TTL_SECONDS: '300', LAST_USED_WRITE_BUDGET_MS: '1500' },
      stdio: 'ignore',
    });
    const devJson = join(dataDir, 'dev.json');
    const deadline = Date.now() + 60_000;
    while (!existsSync(devJson)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('the fault-proxy stack did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    info = JSON.parse(readFileSync(devJson, 'utf8')) as DevStackInfo;
    expect(info.faultControlUrl).toBeDefined();
    // Warm the authorizer cache, so the faults below reach the handlers' calls.
    expect((await api('GET', '/models/account/records/warm-up')).status).toBe(404);
  }, 90_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await restarted?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await faults();
  });

  it('costs one write per upsert and no read before it, one read per get, one write per delete, none for a cached key', async () => {
    // Once, so the model definitions are cached as in a warm function; the authorizer cache is warm since beforeAll.
    expect((await api('POST', '/models/account/records', { name: 'calls-warm' })).status).toBe(201);
    expect((await api('POST', '/models/customer/records', { email: 'warm@calls.example', account: 'calls-warm' })).status).toBe(201);
    const expectStatus = (expected: number) => async (response: Promise<{ status: number }>) => expect((await response).status).toBe(expected);
    expect(await callsOf(() => expectStatus(201)(api('POST', '/models/account/records', { name: 'calls-acme', size: 10 })))).toEqual({ UpdateItem: 1 });
    expect(await callsOf(() => expectStatus(200)(api('POST', '/models/account/records', { name: 'calls-acme', size: 11 })))).toEqual({ UpdateItem: 1 });
    // The customer's write and the read of its account's existence.
    expect(await callsOf(() => expectStatus(201)(api('POST', '/models/customer/records', { email: 'ann@calls.example', account: 'calls-acme' })))).toEqual({
      UpdateItem: 1,
      GetItem: 1,
    });
    expect(await callsOf(() => expectStatus(200)(api('GET', '/models/account/records/calls-acme')))).toEqual({ GetItem: 1 });
    expect(await callsOf(() => expectStatus(204)(api('DELETE', '/models/account/records/calls-acme')))).toEqual({ DeleteItem: 1 });
  });

  it("stays inside each function's IAM grant on every route: its own table actions, on R# and W# partitions only, and its own indexes", async () => {
    // infra/constructs/api-function.ts grants each function its routes' `tableActions`, on items whose partition key
    // starts with R# or W#; on AWS a call outside them would be refused, which DynamoDB Local, without IAM, cannot show.
    // So the proxy reports each call's operation and the partitions it named, route by route. The authorizer is warm (no
    // call of its own). One process serves every route here, so a model definition cached by an earlier route is not
    // read again; on AWS a cold function reads it (GetItem W#), which every route's grant includes.
    const requests: Record<string, () => Promise<{ status: number }>> = {
      DefineModel: () => api('PUT', '/models/gadget', { unique_field: 'sku' }),
      GetModel: () => api('GET', '/models/gadget'),
      ListModels: () => api('GET', '/models'),
      UpsertRecord: () => api('POST', '/models/customer/records', { email: 'grant@x.io', account: 'Grant Co' }),
      BatchRecords: () => api('POST', '/models/account/batch', { records: [{ name: 'Grant Co' }], delete: ['Grant Gone'] }),
      GetRecord: () => api('GET', '/models/customer/records/grant%40x.io'),
      GetRecordByQuery: () => api('GET', '/models/customer/record?id=grant%40x.io'),
      ListRecords: () => api('GET', '/models/customer/records'),
      ListLinkedCustomers: () => api('GET', '/models/account/records/Grant%20Co/customers'),
      ListLinkedCustomersByQuery: () => api('GET', '/models/account/record/customers?id=Grant%20Co'),
      DeleteRecord: () => api('DELETE', '/models/customer/records/grant%40x.io'),
      DeleteRecordByQuery: () => api('DELETE', '/models/account/record?id=Grant%20Co'),
      DeleteModel: () => api('DELETE', '/models/gadget'),
    };
    expect(Object.keys(requests).sort()).toEqual(routes.filter((route) => route.scope !== null).map((route) => route.name).sort());
    const changed = (before: Record<string, number>, after: Record<string, number>) => Object.keys(after).filter((key) => after[key] !== (before[key] ?? 0));
    const named = new Set<string>();
    for (const [name, send] of Object.entries(requests)) {
      const before = await proxyStats();
      const { status } = await send();
      const after = await proxyStats();
      expect([name, status < 400]).toEqual([name, true]);
      const grants = routes.find((route) => route.name === name)!.tableActions as Record<string, readonly string[] | undefined>;
      const granted = (prefix: string) => (grants[prefix] ?? []).map((action) => action.replace('dynamodb:', ''));
      // Each call, in the partitions it named, is one the route's grant allows there; a transaction needs no action of
      // its own, but each of its actions' (a Put needs PutItem).
      const partitions = changed(before.leadingKeys, after.leadingKeys);
      const transactActions = changed(before.transactActions, after.transactActions);
      const refused = partitions.flatMap((kind) => {
        const [operation, prefix] = kind.split(' ') as [string, string];
        const needed = operation === 'TransactWriteItems' ? transactActions : [operation];
        return needed.filter((action) => !granted(prefix).includes(action)).map((action) => `${action} ${prefix}`);
      });
      expect([name, refused]).toEqual([name, []]);
      // Every call named a partition, or queried an index the route has.
      const operations = changed(before.operations, after.operations);
      const unexplained = operations.filter((operation) => !partitions.some((kind) => kind.startsWith(`${operation} `)) && operation !== 'Query');
      expect([name, unexplained]).toEqual([name, []]);
      for (const kind of partitions) named.add(kind);
      const indexes = changed(before.indexes, after.indexes);
      expect([name, indexes.filter((index) => !(routes.find((route) => route.name === name)!.indexes ?? []).includes(index as never))]).toEqual([name, []]);
      for (const index of indexes) named.add(`index ${index}`);
    }
    // The report itself works: the routes together named both kinds of partition, by key and by query of the table.
    expect([...named]).toEqual(expect.arrayContaining(['UpdateItem R#', 'GetItem R#', 'DeleteItem R#', 'TransactWriteItems W#', 'GetItem W#', 'DeleteItem W#', 'Query W#', 'index list', 'index link']));
  });

  it('lets a smoke write in flight when Ctrl-C comes finish before its clean-up, so the record it makes is deleted', async () => {
    // The customer's create is slow (1.5 s at DynamoDB); Ctrl-C comes while it runs. Abandoned, it would land after the
    // clean-up's DELETE had answered 404, and leave the customer behind.
    await faults({ error: 'slow', delayMs: 1500, count: 1, operations: ['UpdateItem'], tables: [info.tableName], bodyIncludes: 'smoke+' });
    const interrupt = new AbortController();
    const sent: string[] = [];
    const watching = (async (url: string, init: RequestInit) => {
      sent.push(`${init.method} ${new URL(url).pathname}`);
      if (init.method === 'POST' && String(init.body).includes('smoke+')) {
        setTimeout(() => {
          sent.push('Ctrl-C');
          interrupt.abort();
        }, 300);
      }
      const answer = await fetch(url, init);
      sent.push(`${answer.status} ${init.method} ${new URL(url).pathname}`);
      return answer;
    }) as typeof fetch;
    try {
      const result = await runScenario({ baseUrl: info.baseUrl, token: info.token, fetch: watching, signal: interrupt.signal });
      expect(result).toMatchObject({ ok: false, interrupted: true, leftovers: [] });
      const customer = `/models/customer/records/${encodeURIComponent(`smoke+${result.runId}@example.com`)}`;
      // Ctrl-C came while the create ran; the create's answer came before the clean-up's DELETE was sent, and that
      // DELETE found the record.
      const interrupted = sent.indexOf('Ctrl-C');
      const created = sent.indexOf('201 POST /models/customer/records');
      const cleanup = sent.indexOf(`DELETE ${customer}`);
      expect([interrupted >= 0, created > interrupted, cleanup > created, sent.includes(`204 DELETE ${customer}`)]).toEqual([true, true, true, true]);
      expect((await api('GET', customer)).status).toBe(404);
    } finally {
      await faults();
    }
  });

  it("keeps the admin's items outside the API functions' grant: workspaces, keys and their listings", async () => {
    // The admin CLI's store, through the proxy: every item it names must lie outside the R# and W# partitions the API
    // functions may touch, so that a defective API function cannot change a workspace's usage key or a key's listing.
    const raw = createDynamoDbClient({ endpoint: info.faultControlUrl!.replace(/\/__faults$/, '') });
    const store = new ApiKeyStore(createDocumentClient(raw), info.tableName);
    try {
      const before = (await proxyStats()).leadingKeys;
      const workspace = `grant-${Date.now()}`;
      await store.createWorkspace(workspace);
      const key = await store.createApiKey({ workspace, scopes: ['records:read'] });
      expect((await store.listTokens(workspace)).map(({ id }) => id)).toEqual([key.tokenId]);
      await store.revokeToken(key.tokenId);
      expect(await store.usageKeyOf(workspace)).toMatch(/^uk_/);
      expect((await store.listWorkspaces()).map(({ id }) => id)).toContain(workspace);
      const after = (await proxyStats()).leadingKeys;
      const partitions = Object.keys(after).filter((kind) => after[kind] !== (before[kind] ?? 0));
      expect(partitions.filter((kind) => apiFunctionItemPrefixes.some((prefix) => kind.endsWith(` ${prefix}`)))).toEqual([]);
      // The report itself works: every kind of admin item was named.
      expect(partitions).toEqual(
        expect.arrayContaining(['PutItem WORKSPACES', 'GetItem WORKSPACES', 'Query WORKSPACES', 'TransactWriteItems K#', 'TransactWriteItems KEYS#', 'Query KEYS#', 'GetItem T#']),
      );
    } finally {
      raw.destroy();
    }
  });

  it('asks one query of the next shard when a listing page fills up exactly at the end of a shard that has a successor with records', async () => {
    // Ids placed by the listing's shard function (lib/store/keys.ts, crc32 of the id): three in shard 0, one in shard 1.
    const inShard = (shard: number, count: number) => {
      const ids: string[] = [];
      for (let i = 0; ids.length < count; i += 1) if (crc32(`walk-${i}`) % tableDefinition.listShards === shard) ids.push(`walk-${i}`);
      return ids;
    };
    const first = inShard(0, 3);
    const [next] = inShard(1, 1);
    expect((await api('PUT', '/models/shardwalk', { unique_field: 'ref' })).status).toBe(201);
    for (const ref of [...first, next]) expect((await api('POST', '/models/shardwalk/records', { ref })).status).toBe(201);
    expect((await api('GET', '/models/shardwalk/records?limit=1')).status).toBe(200); // the model definition, cached
    let page: { status: number; body: { records: { id: string }[]; next_cursor: string | null } } | undefined;
    // Shard 0's query returns its three records and no more; then one query finds shard 1 holds one, not fifteen.
    expect(await callsOf(async () => (page = await api('GET', '/models/shardwalk/records?limit=3')))).toEqual({ Query: 2 });
    expect(page!.body.records.map((r) => r.id).sort()).toEqual([...first].sort());
    expect(page!.body.next_cursor).toEqual(expect.any(String));
    const rest = await api('GET', `/models/shardwalk/records?limit=3&cursor=${encodeURIComponent(page!.body.next_cursor!)}`);
    expect([rest.body.records.map((r: { id: string }) => r.id), rest.body.next_cursor]).toEqual([[next], null]);
  });

  it('checks a key in one read of its own item (none for a key of the wrong shape), records its last use at most once an hour, and never refuses a key for that record', async () => {
    // Each key is new, so the authorizer's cache (300 s on this stack) has not seen it and its check reaches DynamoDB.
    const raw = createDynamoDbClient({ endpoint: info.dynamodbEndpoint });
    const documents = createDocumentClient(raw);
    const store = new ApiKeyStore(documents, info.tableName);
    try {
      const newKey = async (lastUsedAgoMs?: number) => {
        const created = await store.createApiKey({ workspace: 'dev', scopes: ['records:read'] });
        if (lastUsedAgoMs !== undefined) {
          await documents.send(
            new UpdateCommand({
              TableName: info.tableName,
              Key: { pk: `K#${hashApiKey(created.key)}`, sk: 'K' },
              UpdateExpression: 'SET last_used_at = :t',
              ExpressionAttributeValues: { ':t': new Date(Date.now() - lastUsedAgoMs).toISOString() },
            }),
          );
        }
        return created;
      };
      const lastUsedAt = async (key: string) => (await store.findByHash(hashApiKey(key)))?.lastUsedAt;
      /** The status of one read with the key, and the calls it made on key items (K#), by operation. */
      const check = async (key: string) => {
        const before = (await proxyStats()).leadingKeys;
        const response = await fetch(`${info.baseUrl}/models/account/records/nobody`, { headers: { Authorization: `Token ${key}` } });
        const after = (await proxyStats()).leadingKeys;
        const onKeys = Object.keys(after)
          .filter((kind) => kind.endsWith(' K#') && after[kind] !== (before[kind] ?? 0))
          .map((kind) => [kind.split(' ')[0], after[kind]! - (before[kind] ?? 0)]);
        return { status: response.status, calls: Object.fromEntries(onKeys) as Record<string, number> };
      };

      const neverUsed = await newKey();
      const wrongChecksum = neverUsed.key.slice(0, -1) + (neverUsed.key.endsWith('0') ? '1' : '0');
      expect(await check(wrongChecksum)).toEqual({ status: 401, calls: {} });
      expect(await check(generateApiKey())).toEqual({ status: 401, calls: { GetItem: 1 } });
      // First use: recorded. Allowed, so the handler answers (no such record).
      const firstUse = Date.now();
      expect(await check(neverUsed.key)).toEqual({ status: 404, calls: { GetItem: 1, UpdateItem: 1 } });
      expect(Date.parse((await lastUsedAt(neverUsed.key))!)).toBeGreaterThanOrEqual(firstUse - 1000);
      // Then served from the authorizer's cache: no call at all.
      expect(await check(neverUsed.key)).toEqual({ status: 404, calls: {} });

      const usedRecently = await newKey(10 * 60 * 1000);
      const recorded = await lastUsedAt(usedRecently.key);
      expect(await check(usedRecently.key)).toEqual({ status: 404, calls: { GetItem: 1 } });
      expect(await lastUsedAt(usedRecently.key)).toBe(recorded);

      const usedLongAgo = await newKey(2 * 60 * 60 * 1000);
      const beforeUse = Date.now();
      expect(await check(usedLongAgo.key)).toEqual({ status: 404, calls: { GetItem: 1, UpdateItem: 1 } });
      expect(Date.parse((await lastUsedAt(usedLongAgo.key))!)).toBeGreaterThanOrEqual(beforeUse - 1000);

      const revoked = await newKey();
      await store.revokeToken(revoked.tokenId);
      expect(await check(revoked.key)).toEqual({ status: 401, calls: { GetItem: 1 } });

      // Recording the use fails, every attempt: the key is still allowed.
      const unrecorded = await newKey();
      await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [info.tableName] });
      const { status, calls } = await check(unrecorded.key);
      expect([status, calls.GetItem, calls.UpdateItem! >= 1]).toEqual([404, 1, true]);
      await faults();
      expect(await lastUsedAt(unrecorded.key)).toBeUndefined();

      // DynamoDB stops answering that write: the authorizer gives it up within its first attempt, where a call's whole
      // retry budget (three attempts) would hold the request up for seconds; the key is still allowed.
      const stalled = await newKey();
      const failedBefore = (await faults({ error: 'stall', operations: ['UpdateItem'], tables: [info.tableName] })).failed;
      const answered = await check(stalled.key);
      const failedAfter = (await proxyStats()).failed;
      await faults();
      expect([answered.status, failedAfter - failedBefore]).toEqual([404, 1]);
    } finally {
      raw.destroy();
    }
  });

  it('answers 503 unavailable with Retry-After when the authorizer cannot read the key table, then serves the key', async () => {
    // A key the authorizer has not cached yet, so its check reaches DynamoDB.
    const raw = createDynamoDbClient({ endpoint: info.dynamodbEndpoint });
    const store = new ApiKeyStore(createDocumentClient(raw), info.tableName);
    const { key } = await store.createApiKey({ workspace: 'dev', scopes: ['records:read'] });
    raw.destroy();
    const read = () => fetch(`${info.baseUrl}/models/account/records/none`, { headers: { Authorization: `Token ${key}` } });
    await faults({ error: 'throttle', operations: ['GetItem'] });
    const refused = await read();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    await faults();
    expect((await read()).status).toBe(404);
  });

  it("keeps serving a revoked key from the authorizer's cache until its TTL, as API Gateway does (300 s on this stack)", async () => {
    // The other half, that the revoked key is refused once the cache expires, is test/integration/key-revocation.test.ts
    // on the shared stack (a 2 s TTL); here the TTL is long enough that "still cached" does not depend on timing.
    const raw = createDynamoDbClient({ endpoint: info.dynamodbEndpoint });
    const store = new ApiKeyStore(createDocumentClient(raw), info.tableName);
    try {
      const used = await store.createApiKey({ workspace: 'dev', scopes: ['records:read'] });
      const unused = await store.createApiKey({ workspace: 'dev', scopes: ['records:read'] });
      const read = (key: string) => fetch(`${info.baseUrl}/models/account/records/none`, { headers: { Authorization: `Token ${key}` } });
      expect((await read(used.key)).status).toBe(404);
      await store.revokeToken(used.tokenId);
      await store.revokeToken(unused.tokenId);
      // The cached answer still serves the used key, and with no read of the key table; the key never cached is refused.
      let status = 0;
      expect(await callsOf(async () => (status = (await read(used.key)).status))).toEqual({ GetItem: 1 });
      expect(status).toBe(404);
      expect((await read(unused.key)).status).toBe(401);
    } finally {
      raw.destroy();
    }
  });

  it("stops starting a batch's items at its deadline: each one not started answers 503 unavailable, in order, and is never sent", async () => {
    // Every write takes a second, so the 28 s batch function reaches its deadline (its time less one call's retry
    // budget and a second to answer, about 17 s in) with 16 writes at a time: some 290 items at most are started.
    const names = Array.from({ length: 400 }, (_, i) => `deadline-${i}`);
    await faults({ error: 'slow', delayMs: 1000, operations: ['UpdateItem'] });
    let batch: Awaited<ReturnType<typeof api>> | undefined;
    const calls = await callsOf(async () => {
      batch = await api('POST', '/models/account/batch', { records: names.map((name) => ({ name })) });
    });
    await faults();
    expect(batch!.status).toBe(200);
    const results = batch!.body.results as { index: number; id: string; status: number; error?: { code: string; message: string } }[];
    expect(results.map((r) => [r.index, r.id])).toEqual(names.map((name, i) => [i, name]));
    // Items start in request order, so those not started are the last ones.
    const late = (r: (typeof results)[number]) => r.status === 503 && /not attempted before the time limit; send it again/.test(r.error?.message ?? '');
    const started = results.findIndex(late);
    expect(started).toBeGreaterThan(0);
    expect(results.slice(started).every(late)).toBe(true);
    expect(results.slice(started).map((r) => r.error?.code)).toEqual(names.slice(started).map(() => 'unavailable'));
    // Those started were written: 201, unless a loaded machine made one outlive its retries (503; it may be written).
    const written = results.slice(0, started).filter((r) => r.status === 201).length;
    expect(written).toBeGreaterThan(started / 2);
    expect(results.slice(0, started).every((r) => r.status === 201 || r.error?.code === 'unavailable')).toBe(true);
    // An attempt that outlives its 2 s is sent again by the SDK, so the writes may outnumber the items started.
    expect(Object.keys(calls)).toEqual(['UpdateItem']);
    expect(calls.UpdateItem).toBeGreaterThanOrEqual(started);
    // The items not started were never written; those answered 201 were.
    const lookups = await Promise.all(names.map((name) => api('GET', `/models/account/records/${name}`)));
    results.forEach((r, i) => {
      if (r.status === 201) expect([i, lookups[i]!.status]).toEqual([i, 200]);
      if (i >= started) expect([i, lookups[i]!.status]).toEqual([i, 404]);
    });
  }, 60_000);

  it('rides out transient throttling and 5xx through the SDK retries', async () => {
    await faults({ error: 'throttle', count: 2, operations: ['UpdateItem'] });
    expect((await api('POST', '/models/account/records', { name: 'transient', n: 1 })).status).toBe(201);
    await faults({ error: 'internal', count: 2, operations: ['GetItem'] });
    expect((await api('GET', '/models/account/records/transient')).status).toBe(200);
    const stats = await faults();
    expect(stats.failed).toBeGreaterThanOrEqual(4);
  });

  it('answers persistent throttling and outages with 503 and Retry-After, and writes nothing', async () => {
    expect((await api('POST', '/models/account/records', { name: 'steady', n: 1 })).status).toBe(201);
    for (const error of ['throttle', 'internal', 'unavailable'] as const) {
      await faults({ error, operations: ['UpdateItem'] });
      const refused = await api('POST', '/models/account/records', { name: 'steady', n: 2 });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('unavailable');
      expect(refused.headers.get('retry-after')).toBe('1');
      await faults();
      expect((await api('GET', '/models/account/records/steady')).body).toMatchObject({ version: 1, fields: { n: 1 } });
    }
    await faults({ error: 'throttle' });
    // A batch answers per item: each throttled item is a 503 after its own retries.
    const batch = await api('POST', '/models/account/batch', { records: [{ name: 'b1' }, { name: 'b2' }] });
    expect(batch.status).toBe(200);
    expect(batch.body.results.map((r: { status: number; error: { code: string } }) => [r.status, r.error.code])).toEqual([
      [503, 'unavailable'],
      [503, 'unavailable'],
    ]);
    // The answer asks for a pause before they are sent again, as a request answered 503 as a whole does.
    expect(batch.headers.get('retry-after')).toBe('1');
    await faults();
    expect((await api('GET', '/models/account/records/b1')).status).toBe(404);

    // With an Idempotency-Key, an answer holding throttled items is kept as a partial one; here the idempotency table is
    // throttled too and cannot keep it, so the key is released and the retry runs every item.
    await faults({ error: 'throttle', operations: ['UpdateItem'] });
    const keyed = { records: [{ name: 'k1' }, { name: 'k2' }] };
    const sendKeyed = () =>
      fetch(`${info.baseUrl}/models/account/batch`, {
        method: 'POST',
        headers: { Authorization: `Token ${info.token}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'retry-me' },
        body: JSON.stringify(keyed),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { results: { status: number }[] } }));
    expect((await sendKeyed()).body.results.map((r) => r.status)).toEqual([503, 503]);
    await faults();
    expect((await sendKeyed()).body.results.map((r) => r.status)).toEqual([201, 201]);
    // Now complete, the answer is remembered and replayed.
    expect((await sendKeyed()).body.results.map((r) => r.status)).toEqual([201, 201]);
    expect((await api('GET', '/models/account/records/k1')).body.version).toBe(1);
  });

  it('answers 503 with Retry-After, within the retry budget, when DynamoDB stops answering without closing its connections', async () => {
    expect((await api('POST', '/models/account/records', { name: 'stalled', n: 1 })).status).toBe(201);
    // Every GetItem is held open and never answered: each attempt must time out (2 s), not wait for the function's end.
    await faults({ error: 'stall', operations: ['GetItem'] });
    // Three attempts of 2 s and their backoffs (lib/store/dynamodb-client.ts), then 503: not the function's own 504 at
    // its 20 s timeout, which is what a request timeout that only warned gave.
    const refused = await api('GET', '/models/account/records/stalled');
    expect([refused.status, refused.body.error.code, refused.headers.get('retry-after')]).toEqual([503, 'unavailable', '1']);
    await faults();
    expect((await api('GET', '/models/account/records/stalled')).status).toBe(200);
  });

  it('answers an upsert or a batch item whose first answer was lost, and which the SDK sent again, as the write it was: never a 412, a 201 when it made the record', async () => {
    const upsert = async (json: Record<string, unknown>, headers: Record<string, string> = {}) => {
      const { status, body } = await api('POST', '/models/account/records', json, headers);
      return [status, body.version ?? body.error?.code, body.fields?.x];
    };
    const lostOnce = async (send: () => Promise<unknown[]>) => {
      // DynamoDB applies the first UpdateItem, its answer never arrives, and the SDK's retry finds the write done.
      await faults({ error: 'lost-answer', count: 1, operations: ['UpdateItem'] });
      let answer: unknown[] = [];
      const calls = await callsOf(async () => (answer = await send()));
      expect(calls.UpdateItem).toBe(2);
      return answer;
    };
    expect(await upsert({ name: 'lost-1', x: 0 })).toEqual([201, 1, 0]);
    // If-Match "1": the retry's condition fails on the version its own first attempt wrote (a 412 before).
    expect(await lostOnce(() => upsert({ name: 'lost-1', x: 1 }, { 'If-Match': '"1"' }))).toEqual([200, 2, 1]);
    // If-None-Match: *: the retry finds the record its first attempt made (a 412 "already exists" before).
    expect(await lostOnce(() => upsert({ name: 'lost-2', x: 2 }, { 'If-None-Match': '*' }))).toEqual([201, 1, 2]);
    // No condition: the retry's change test finds nothing left to change (a 200 "unchanged" before, for a create).
    expect(await lostOnce(() => upsert({ name: 'lost-3', x: 3 }))).toEqual([201, 1, 3]);
    // A payload past the exact change test (its digest compared instead), with If-Match.
    const wide = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`w${i}`, i]));
    expect(await upsert({ name: 'lost-4', x: 0, ...wide })).toEqual([201, 1, 0]);
    expect(await lostOnce(() => upsert({ name: 'lost-4', x: 4, ...wide }, { 'If-Match': '"1"' }))).toEqual([200, 2, 4]);
    // A batch item: its retry's change test finds nothing left to change, and the stamp shows the write was its own.
    const batchItem = async (json: Record<string, unknown>) => {
      const batch = await api('POST', '/models/account/batch', { records: [json] });
      return batch.body.results.map((r: { status: number; id: string }) => [r.status, r.id]);
    };
    expect(await lostOnce(() => batchItem({ name: 'lost-5', x: 5 }))).toEqual([[201, 'lost-5']]);
    expect(await lostOnce(() => batchItem({ name: 'lost-5', x: 6 }))).toEqual([[200, 'lost-5']]);
    expect((await api('GET', '/models/account/records/lost-5')).body).toMatchObject({ version: 2, fields: { x: 6 } });
    await faults();
    // Someone else's write is still someone else's: a stale If-Match is a 412, an existing record refuses If-None-Match.
    expect(await upsert({ name: 'lost-1', x: 9 }, { 'If-Match': '"1"' })).toEqual([412, 'precondition_failed', undefined]);
    expect(await upsert({ name: 'lost-2', x: 9 }, { 'If-None-Match': '*' })).toEqual([412, 'precondition_failed', undefined]);
    expect(await upsert({ name: 'lost-3', x: 3 })).toEqual([200, 1, 3]);
    expect(await batchItem({ name: 'lost-5', x: 6 })).toEqual([[200, 'lost-5']]);
    // ... a true repeat, which changed nothing (an "updated" would have made version 3).
    expect((await api('GET', '/models/account/records/lost-5')).body).toMatchObject({ version: 2, fields: { x: 6 } });
  });

  it('answers a new model whose first answer was lost, and which the SDK sent again, as created, written once', async () => {
    await faults({ error: 'lost-answer', count: 1, operations: ['TransactWriteItems'], tables: [info.tableName] });
    const created = await api('PUT', '/models/lostmodel', { unique_field: 'external_id', fields: { price: { type: 'number' } } });
    expect(created.status).toBe(201);
    const stored = (await api('GET', '/models/lostmodel')).body;
    // One write: a repeat taken for someone else's would have read the model and written it again, later.
    expect(stored.updated_at).toBe(stored.created_at);
  });

  it('leaves a record written as its model was deleted readable and deletable by the id its listing shows, also once the model is keyed by e-mail', async () => {
    expect((await api('PUT', '/models/leftover', { unique_field: 'k' })).status).toBe(201);
    // The upsert's write reaches DynamoDB only after the model's DELETE has answered, as one from a function that still
    // has the definition cached does on a stage (docs/api.md, "Models").
    const before = (await proxyStats()).failed;
    await faults({ error: 'slow', delayMs: 1800, count: 2, operations: ['UpdateItem'], tables: [info.tableName], bodyIncludes: '#leftover#' });
    const upserts = ['Left-Behind', 'Don@Left.io'].map((k) => api('POST', '/models/leftover/records', { k }));
    while ((await proxyStats()).failed < before + 2) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await api('DELETE', '/models/leftover')).status).toBe(204);
    expect((await Promise.all(upserts)).map((answer) => answer.status)).toEqual([201, 201]);
    await faults();
    // Defined again, keyed by e-mail: the records left behind are listed under their old ids, one no address, the
    // other an address with capitals, which an e-mail id never has.
    expect((await api('PUT', '/models/leftover', { unique_field: 'k', fields: { k: { type: 'email' } } })).status).toBe(201);
    expect((await api('GET', '/models/leftover/records')).body.records.map((r: { id: string }) => r.id).sort()).toEqual(['Don@Left.io', 'Left-Behind']);
    expect((await api('PUT', '/models/leftover', { unique_field: 'other' })).status).toBe(409);
    expect((await api('DELETE', '/models/leftover')).status).toBe(409);
    // It is read and deleted by that id (a new write of it is refused, since it is no address), and then the model can go.
    expect((await api('GET', '/models/leftover/records/Left-Behind')).body).toMatchObject({ id: 'Left-Behind', fields: { k: 'Left-Behind' } });
    expect((await api('POST', '/models/leftover/records', { k: 'Left-Behind' })).status).toBe(422);
    expect((await api('GET', '/models/leftover/records/left-behind')).status).toBe(404);
    expect((await api('DELETE', '/models/leftover/records/Left-Behind')).status).toBe(204);
    const gone = await api('GET', '/models/leftover/records/Left-Behind');
    expect([gone.status, gone.body.error.details]).toEqual([404, [{ field: 'id', issue: 'must be an e-mail address' }]]);
    // The address with capitals: its e-mail form (don@left.io) names nothing, so the id as sent is looked up too.
    expect((await api('GET', '/models/leftover/records/Don%40Left.io')).body).toMatchObject({ id: 'Don@Left.io' });
    expect((await api('GET', '/models/leftover/records/DON%40LEFT.IO')).status).toBe(404);
    const batch = await api('POST', '/models/leftover/batch', { delete: ['Don@Left.io', 'Don@Left.io'] });
    expect(batch.body.results.map((r: { status: number; id: string }) => [r.status, r.id])).toEqual([[204, 'Don@Left.io'], [404, 'don@left.io']]);
    expect((await api('DELETE', '/models/leftover')).status).toBe(204);
  });

  it('answers a second request with the same Idempotency-Key while the first is in flight with a 409, then replays the first', async () => {
    const keyed = () => api('POST', '/models/account/records', { name: 'idem-in-flight', n: 1 }, { 'Idempotency-Key': 'idem-in-flight' });
    // The first request's write is held (its first attempt is never answered; the SDK's retry after 2 s goes through), so
    // it is in flight for certain, with its key claimed (the claim is written before the record), when the second comes.
    const failedBefore = (await faults({ error: 'stall', count: 1, operations: ['UpdateItem'], tables: [info.tableName] })).failed;
    const first = keyed();
    const deadline = Date.now() + 10_000;
    while ((await proxyStats()).failed === failedBefore) {
      if (Date.now() > deadline) throw new Error('the first request never reached its write');
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = await keyed();
    expect([second.status, second.body.error.code, second.headers.get('retry-after')]).toEqual([409, 'request_in_progress', '1']);
    const answered = await first;
    expect([answered.status, answered.body.version]).toEqual([201, 1]);
    // Once the first is done, the same request replays its answer.
    const replay = await keyed();
    expect([replay.status, replay.body]).toEqual([201, answered.body]);
  });

  it('still gives a keyed write its answer when the idempotency table cannot take it, and releases the key', async () => {
    const keyed = () => api('POST', '/models/account/records', { name: 'idem-store-down', n: 1 }, { 'Idempotency-Key': 'idem-store-down' });
    // The claim (PutItem) goes through; completing the key's record (UpdateItem on the idempotency table) fails.
    await faults({ error: 'internal', operations: ['UpdateItem'], tables: [`${info.tableName}-idempotency`] });
    const first = await keyed();
    // The write was applied, so the client is told so, not "503, nothing written".
    expect(first.status).toBe(201);
    expect(first.body.version).toBe(1);
    expect((await faults()).failed).toBeGreaterThan(0);
    // The key was released: the retry runs again, and the merge makes that an identical repeat.
    const retry = await keyed();
    expect(retry.status).toBe(200);
    expect(retry.body.version).toBe(1);
    // Now remembered: the next one is a replay, which answers as the retry did and writes nothing.
    let replayStatus = 0;
    expect(await callsOf(async () => (replayStatus = (await keyed()).status))).not.toHaveProperty('UpdateItem');
    expect(replayStatus).toBe(200);
  });

  it('answers 503, never 500, while DynamoDB Local is killed, and keeps every acknowledged write across a restart', async () => {
    const acknowledged: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i += 1) {
        const name = `load-${w}-${i}`;
        const response = await api('POST', '/models/account/records', { name, i });
        if (response.status === 201) acknowledged.push(name);
        else expect(response.status).toBe(503);
        if (response.status === 503) await new Promise((r) => setTimeout(r, 50));
      }
    });
    // Each step waits for what it needs to see, not for a guessed time.
    const until = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await until('writes are flowing', () => acknowledged.length >= 20);
      process.kill(info.dynamodbPid!, 'SIGKILL');
      await until('the outage is answered with 503', async () => (await api('GET', '/models/account/records/load-0-0')).status === 503);
      const beforeRestart = acknowledged.length;
      // Bring DynamoDB Local back on the same port and data, as an operator would.
      restarted = await startDynamoDbLocal({ dataDir: join(dataDir, 'dynamodb'), port: Number(new URL(info.dynamodbEndpoint).port) });
      await until('writes are acknowledged again', () => acknowledged.length > beforeRestart);
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    for (const name of acknowledged) {
      const read = await api('GET', `/models/account/records/${name}`);
      expect([name, read.status]).toEqual([name, 200]);
    }
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
  }, 120_000);

  // Last in the suite: the SDK's retry allowance is shared by the stack's process (docs/reliability.md, "The SDK's
  // retry allowance"), and these spend some of it, which the tests above that count the SDK's attempts must not meet.
  it('answers a write whose every attempt lost its answer as the write it was, from one read of its item: never a 503 whose retry gets a 412', async () => {
    const upsert = async (json: Record<string, unknown>, headers: Record<string, string> = {}) => {
      const { status, body } = await api('POST', '/models/account/records', json, headers);
      return [status, body.version ?? body.error?.code, body.fields?.x];
    };
    const batchItem = async (json: Record<string, unknown>) =>
      (await api('POST', '/models/account/batch', { records: [json] })).body.results.map((r: { status: number; id: string }) => [r.status, r.id]);
    // All three of the SDK's attempts are applied and none of their answers arrives: a read of the item finds the write.
    await faults({ error: 'lost-answer', count: 3, operations: ['UpdateItem'] });
    let answer: unknown[] = [];
    const calls = await callsOf(async () => (answer = await upsert({ name: 'lost-all-1', x: 1 }, { 'If-None-Match': '*' })));
    expect([answer, calls.GetItem]).toEqual([[201, 1, 1], 1]);
    // A batch item: the same read settles it; and when that read fails too, the batch's own retry of the item, with the
    // same write token, recognises the write.
    await faults({ error: 'lost-answer', count: 3, operations: ['UpdateItem'] });
    expect(await batchItem({ name: 'lost-all-2', x: 2 })).toEqual([[201, 'lost-all-2']]);
    await faults({ error: 'lost-answer', count: 6, operations: ['UpdateItem', 'GetItem'] });
    expect(await batchItem({ name: 'lost-all-3', x: 3 })).toEqual([[201, 'lost-all-3']]);
    await faults();
    for (const [name, x] of [['lost-all-1', 1], ['lost-all-2', 2], ['lost-all-3', 3]] as const) {
      expect((await api('GET', `/models/account/records/${name}`)).body).toMatchObject({ version: 1, fields: { x } });
    }
  });

  it("answers a customer write whose account lookup failed as the write it was, with the link left unchecked", async () => {
    expect((await api('POST', '/models/account/records', { name: 'LookupCo' })).status).toBe(201);
    // A customer first, so the customer model's definition is cached (a cold one is read, and that read would fail).
    expect((await api('POST', '/models/customer/records', { email: 'lookup-warm@x.io' })).status).toBe(201);
    // Every read fails, the write goes through: a 503 here would have its retry answered 412 (If-None-Match).
    await faults({ error: 'throttle', operations: ['GetItem', 'BatchGetItem'] });
    const written = await api('POST', '/models/customer/records', { email: 'lookup@x.io', account: 'LookupCo' }, { 'If-None-Match': '*' });
    await faults();
    expect([written.status, written.body.version, written.body.links]).toEqual([201, 1, { account: { id: 'LookupCo', exists: null } }]);
    expect((await api('GET', '/models/customer/records/lookup@x.io')).body.links).toEqual({ account: { id: 'LookupCo', exists: true } });
  });

  it("holds a record's later items once one of its items answers 503, so that resending that item as told never writes it over them", async () => {
    expect((await api('POST', '/models/account/records', { name: 'held-y', plan: 'free' })).status).toBe(201);
    expect((await api('POST', '/models/account/records', { name: 'held-z', note: 'kept' })).status).toBe(201);
    // Every write that carries "gold" is throttled past the SDK's retries and the batch's own. (Here, late in the suite,
    // with the other tests that spend the SDK's process-wide retry allowance: with it spent, the outcome is the same.)
    await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [info.tableName], bodyIncludes: 'gold' });
    const batch = { records: [{ name: 'held-y', plan: 'gold' }, { name: 'held-other', plan: 'silver' }, { name: 'held-y', plan: 'platinum' }, { name: 'held-z', note: 'gold plated' }], delete: ['held-z'] };
    const first = await api('POST', '/models/account/batch', batch);
    await faults();
    const results = first.body.results as { op: string; index: number; status: number; error?: { code: string; message: string } }[];
    expect(results.map((r) => [r.op, r.index, r.status])).toEqual([['upsert', 0, 503], ['upsert', 1, 201], ['upsert', 2, 503], ['upsert', 3, 503], ['delete', 0, 503]]);
    // The later items of a record whose item failed were not attempted, and say why.
    for (const held of [results[2]!, results[4]!]) {
      expect(held.error).toEqual({ code: 'unavailable', message: expect.stringMatching(/not attempted because an earlier item for the same id could not be written; send them again, in order/) });
    }
    expect(results[0]!.error?.message).not.toMatch(/not attempted/);
    // Nothing of those records changed: not platinum, and held-z was not deleted.
    expect((await api('GET', '/models/account/records/held-y')).body).toMatchObject({ version: 1, fields: { plan: 'free' } });
    expect((await api('GET', '/models/account/records/held-z')).body).toMatchObject({ version: 1, fields: { note: 'kept' } });
    // The client sends the items answered 503 again, in order: the batch's last word on each record stands.
    const again = await api('POST', '/models/account/batch', { records: [batch.records[0], batch.records[2], batch.records[3]], delete: ['held-z'] });
    expect((again.body.results as { status: number }[]).map((r) => r.status)).toEqual([200, 200, 200, 204]);
    expect((await api('GET', '/models/account/records/held-y')).body).toMatchObject({ version: 3, fields: { plan: 'platinum' } });
    expect((await api('GET', '/models/account/records/held-z')).status).toBe(404);
  }, 60_000);

  it('continues a batch resent with its Idempotency-Key after throttled items: only those run again, the others keep their answers', async () => {
    const send = (body: unknown, key: string) =>
      fetch(`${info.baseUrl}/models/account/batch`, {
        method: 'POST',
        headers: { Authorization: `Token ${info.token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { results: { status: number; id: string }[] } }));
    const statuses = (answer: { body: { results: { status: number }[] } }) => answer.body.results.map((r) => r.status);
    expect((await api('POST', '/models/account/records', { name: 'resend-gone', n: 1 })).status).toBe(201);
    // Only the records' table fails: the idempotency table keeps each partial answer.

    // The deletes are throttled: the upserts (two of one record) are done, the delete is not.
    const first = { records: [{ name: 'resend-twice', v: 1 }, { name: 'resend-twice', v: 2 }, { name: 'resend-once' }], delete: ['resend-gone'] };
    await faults({ error: 'throttle', operations: ['DeleteItem'], tables: [info.tableName] });
    expect(statuses(await send(first, 'resend-1'))).toEqual([201, 200, 201, 503]);
    await faults();
    const resent = await send(first, 'resend-1');
    expect(statuses(resent)).toEqual([201, 200, 201, 204]);
    // The upserts did not run again: the record written twice is at its second version, not its fourth.
    expect((await api('GET', '/models/account/records/resend-twice')).body).toMatchObject({ version: 2, fields: { v: 2 } });
    expect((await api('GET', '/models/account/records/resend-gone')).status).toBe(404);
    // Complete now, the answer is replayed as it is.
    expect(await send(first, 'resend-1')).toEqual(resent);

    // The upserts are throttled and the delete is done: another client makes the deleted record again, and the resend
    // writes the upserts but does not delete that record a second time.
    expect((await api('POST', '/models/account/records', { name: 'resend-gone', n: 2 })).status).toBe(201);
    const second = { records: [{ name: 'resend-later', v: 1 }], delete: ['resend-gone'] };
    await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [info.tableName] });
    expect(statuses(await send(second, 'resend-2'))).toEqual([503, 204]);
    await faults();
    expect((await api('POST', '/models/account/records', { name: 'resend-gone', n: 3 })).status).toBe(201);
    expect(statuses(await send(second, 'resend-2'))).toEqual([201, 204]);
    expect((await api('GET', '/models/account/records/resend-gone')).body).toMatchObject({ version: 1, fields: { n: 3 } });
    expect((await api('GET', '/models/account/records/resend-later')).body).toMatchObject({ version: 1, fields: { v: 1 } });

    // A record whose first item failed runs again from there, its later items too, so the file order still decides.
    const third = { records: [{ name: 'resend-order', v: 1 }], delete: ['resend-order'] };
    await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [info.tableName] });
    expect(statuses(await send(third, 'resend-3'))).toEqual([503, 503]);
    await faults();
    expect(statuses(await send(third, 'resend-3'))).toEqual([201, 204]);
    expect((await api('GET', '/models/account/records/resend-order')).status).toBe(404);

    // Two resends at once: one continues the batch, the other is told to wait (409) and runs nothing.
    const fourth = { records: [{ name: 'resend-race', v: 1 }, { name: 'resend-race', v: 2 }], delete: ['resend-nothing'] };
    await faults({ error: 'throttle', operations: ['DeleteItem'], tables: [info.tableName] });
    expect(statuses(await send(fourth, 'resend-4'))).toEqual([201, 200, 503]);
    await faults({ error: 'slow', delayMs: 500, operations: ['DeleteItem'], tables: [info.tableName] });
    const both = await Promise.all([send(fourth, 'resend-4'), send(fourth, 'resend-4')]);
    await faults();
    expect(both.map((answer) => answer.status).sort()).toEqual([200, 409]);
    expect(statuses(both.find((answer) => answer.status === 200)!)).toEqual([201, 200, 404]);
    expect((await api('GET', '/models/account/records/resend-race')).body).toMatchObject({ version: 2, fields: { v: 2 } });

    // A resend whose answer the idempotency table cannot take gives the partial answer back: the next resend continues
    // from it (the upserts done the first time are not run again), instead of running every item.
    const fifth = { records: [{ name: 'resend-back', v: 1 }, { name: 'resend-back', v: 2 }], delete: ['resend-back-gone'] };
    await faults({ error: 'throttle', operations: ['DeleteItem'], tables: [info.tableName] });
    expect(statuses(await send(fifth, 'resend-5'))).toEqual([201, 200, 503]);
    // A resend that cannot take the partial answer over (the idempotency table throttled) is a 503, and changes nothing.
    await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [idempotencyTableName(info.tableName)], bodyIncludes: 'gatherPartialBatch' });
    const refused = await send(fifth, 'resend-5');
    expect([refused.status, (refused.body as unknown as { error: { code: string } }).error.code]).toEqual([503, 'unavailable']);
    await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [idempotencyTableName(info.tableName)], bodyIncludes: ':response_data' });
    expect(statuses(await send(fifth, 'resend-5'))).toEqual([201, 200, 404]);
    await faults();
    expect(statuses(await send(fifth, 'resend-5'))).toEqual([201, 200, 404]);
    expect((await api('GET', '/models/account/records/resend-back')).body).toMatchObject({ version: 2, fields: { v: 2 } });

    // The answer to the resend's takeover is lost, and the SDK sends it again: the repeat is its own, not a competitor's.
    expect((await api('POST', '/models/account/records', { name: 'resend-lost-gone' })).status).toBe(201);
    const sixth = { records: [{ name: 'resend-lost', v: 1 }, { name: 'resend-lost', v: 2 }], delete: ['resend-lost-gone'] };
    await faults({ error: 'throttle', operations: ['DeleteItem'], tables: [info.tableName] });
    expect(statuses(await send(sixth, 'resend-6'))).toEqual([201, 200, 503]);
    await faults({ error: 'lost-answer', count: 1, operations: ['UpdateItem'], tables: [idempotencyTableName(info.tableName)], bodyIncludes: 'gatherPartialBatch' });
    let continued = await send(sixth, 'resend-6');
    await faults();
    // Late in this suite the SDK's retry allowance may be spent (docs/reliability.md): then it does not send the
    // takeover again, the resend answers 503, and the record stays this resend's until its time is up (28 s), after
    // which the next resend takes the partial answer up. Either way the partial answer is continued, not run again.
    if (continued.status === 503) {
      for (const deadline = Date.now() + 60_000; continued.status !== 200 && Date.now() < deadline; continued = await send(sixth, 'resend-6')) {
        expect(continued.status).not.toBe(500);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    expect(statuses(continued)).toEqual([201, 200, 204]);
    expect((await api('GET', '/models/account/records/resend-lost')).body).toMatchObject({ version: 2, fields: { v: 2 } });
  }, 120_000);

  it('takes a partial batch answer up again once a resend that could neither store its answer nor give it back is past its time', async () => {
    const send = (body: unknown) =>
      fetch(`${info.baseUrl}/models/account/batch`, {
        method: 'POST',
        headers: { Authorization: `Token ${info.token}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'resend-dead' },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { results?: { status: number }[] } }));
    const statuses = (answer: { body: { results?: { status: number }[] } }) => answer.body.results?.map((r) => r.status);
    const idempotencyTable = idempotencyTableName(info.tableName);
    expect((await api('POST', '/models/account/records', { name: 'resend-dead-gone', n: 1 })).status).toBe(201);
    const batch = { records: [{ name: 'resend-dead', v: 1 }, { name: 'resend-dead-slow', v: 1 }], delete: ['resend-dead-gone'] };
    await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [info.tableName], bodyIncludes: 'resend-dead-slow' });
    expect(statuses(await send(batch))).toEqual([201, 503, 204]);
    await faults();
    // Another client makes the deleted record again: no resend may delete it a second time.
    expect((await api('POST', '/models/account/records', { name: 'resend-dead-gone', n: 2 })).status).toBe(201);

    // The resend's slow item is held while the idempotency table starts refusing every write: its answer cannot be
    // stored, nor the partial answer given back.
    const before = (await faults({ error: 'slow', delayMs: 1500, operations: ['UpdateItem'], tables: [info.tableName], bodyIncludes: 'resend-dead-slow' })).failed;
    const resent = send(batch);
    while ((await proxyStats()).failed === before) await new Promise((r) => setTimeout(r, 20));
    await faults({ error: 'throttle', operations: ['UpdateItem'], tables: [idempotencyTable] });
    expect(statuses(await resent)).toEqual([201, 201, 204]);
    await faults();
    // Until that resend's time is up the key is in progress; then the next resend continues the partial answer.
    expect((await send(batch)).status).toBe(409);
    let after = await send(batch);
    for (const deadline = Date.now() + 60_000; after.status === 409 && Date.now() < deadline; after = await send(batch)) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(statuses(after)).toEqual([201, 200, 204]);
    expect((await api('GET', '/models/account/records/resend-dead-gone')).body).toMatchObject({ version: 1, fields: { n: 2 } });
    expect((await api('GET', '/models/account/records/resend-dead')).body.version).toBe(1);
  }, 120_000);
});
