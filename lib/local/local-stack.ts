/**
 * The whole local stack that `npm start` runs and the tests start: DynamoDB Local with its data under DATA_DIR, the
 * table, a `dev` workspace with a full-scope key kept across restarts, and the local gateway serving lib/routes.ts
 * through the real authorizer and handlers. When it is ready it writes `$DATA_DIR/dev.json`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hashApiKey } from '../auth/api-key.js';
import { allScopes } from '../auth/scopes.js';
import { routes, authorizerEntry } from '../routes.js';
import { ApiKeyStore } from '../store/api-key-store.js';
import { createDocumentClient, createDynamoDbClient } from '../store/dynamodb-client.js';
import { ensureIdempotencyTable, ensureTable } from './create-table.js';
import { idempotencyTableName } from '../store/table-definition.js';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { startFaultProxy } from './fault-proxy.js';
import { claimDataDir } from './data-dir-lock.js';
import { devJsonPath } from './dev-json.js';
import { createGatewayHttpServer, createLocalGateway, type ProxyHandler, type TokenAuthorizer } from './gateway.js';
import type { RateLimit } from './workspace-rate-limit.js';

export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DevStackInfo {
  readonly baseUrl: string;
  readonly token: string;
  readonly dynamodbEndpoint: string;
  readonly tableName: string;
  /** With the fault proxy: where tests steer it (lib/local/fault-proxy.ts). */
  readonly faultControlUrl?: string;
  /** The Java process of DynamoDB Local, for tests that kill it. */
  readonly dynamodbPid?: number;
}

export interface LocalStackOptions {
  /** @default 3000; 0 picks a free port */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default '.data' */
  readonly dataDir?: string;
  /** Keep DynamoDB's data in memory instead of under dataDir. @default false */
  readonly inMemory?: boolean;
  /** @default 60 */
  readonly authorizerCacheTtlSeconds?: number;
  /** Every function's timeout instead of the stack's (see LocalGatewayOptions). @default each function's timeout in the stack */
  readonly functionTimeoutSeconds?: number;
  /** @default 'gather-local' */
  readonly tableName?: string;
  readonly log?: (line: Record<string, unknown>) => void;
  /** Put a fault-injecting proxy between the handlers and DynamoDB Local (tests only). @default false */
  readonly faultProxy?: boolean;
  /** Each workspace's rate and burst, as a stage's usage plan (LOCAL_RATE_LIMIT). @default no limit */
  readonly workspaceRateLimit?: RateLimit;
}

export interface LocalStack {
  readonly info: DevStackInfo;
  readonly dynamoDb: DynamoDbLocal;
  readonly server: Server;
  stop(): Promise<void>;
}

export class PortInUseError extends Error {}

/** The URL a stack listening on `host` serves: an IPv6 address is bracketed (`http://[::1]:3000`). */
export function baseUrlOf(host: string, port: number): string {
  return `http://${host === '127.0.0.1' ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A start that failed for a reason its message says in full (a file or setting to mend): no stack trace needed. */
export class LocalStackError extends Error {}

async function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(`Port ${port} on ${host} is already in use`) : error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolveListen((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

async function importEntry<T>(entry: string): Promise<T> {
  const module = (await import(pathToFileURL(join(repositoryRoot, entry)).href)) as { handler?: T };
  if (typeof module.handler !== 'function') throw new Error(`${entry} does not export a handler function`);
  return module.handler;
}

/** The dev key survives restarts: it is kept beside the data and reused while the table still knows it. */
async function devKey(store: ApiKeyStore, keyFile: string): Promise<string> {
  if (existsSync(keyFile)) {
    let saved: { token?: string };
    try {
      saved = JSON.parse(readFileSync(keyFile, 'utf8')) as { token?: string };
    } catch (error) {
      throw new LocalStackError(`${keyFile} is not a dev key file (${(error as Error).message}): delete it, and npm start makes a new key`);
    }
    if (saved.token && (await store.findByHash(hashApiKey(saved.token)))) return saved.token;
  }
  if (!(await store.workspaceExists('dev'))) await store.createWorkspace('dev');
  const created = await store.createApiKey({ workspace: 'dev', scopes: allScopes, name: 'npm start' });
  writeFileSync(keyFile, JSON.stringify({ token: created.key, tokenId: created.tokenId }, null, 2), { mode: 0o600 });
  return created.key;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir ?? '.data');
  const host = options.host ?? '127.0.0.1';
  const tableName = options.tableName ?? 'gather-local';
  mkdirSync(dataDir, { recursive: true });
  const devJson = devJsonPath(dataDir);

  // Claim the port first: a second `npm start` fails at once, before it starts Java, and before it touches the running
  // stack's dev.json (the admin, import and smoke CLIs find that stack through it).
  const server = createLocalGatewayPlaceholder();
  const port = await listen(server.placeholder, options.port ?? 3000, host);
  // The data directory next: a second stack on it, on another port, must not run a second DynamoDB Local on its files.
  let releaseDataDir: () => void;
  try {
    releaseDataDir = claimDataDir(dataDir);
  } catch (error) {
    server.placeholder.close();
    throw error;
  }
  rmSync(devJson, { force: true });

  let dynamoDb: DynamoDbLocal | undefined;
  let closeProxy: () => Promise<void> = async () => undefined;
  try {
    dynamoDb = await startDynamoDbLocal(options.inMemory ? {} : { dataDir: join(dataDir, 'dynamodb') });
    // The handlers read their configuration from the environment, as in Lambda.
    const proxy = options.faultProxy ? await startFaultProxy(dynamoDb.endpoint) : undefined;
    closeProxy = proxy ? () => proxy.close() : closeProxy;
    process.env.TABLE_NAME = tableName;
    process.env.IDEMPOTENCY_TABLE_NAME = idempotencyTableName(tableName);
    process.env.DYNAMODB_ENDPOINT = proxy?.endpoint ?? dynamoDb.endpoint;
    process.env.AWS_REGION ??= 'local';
    // Metrics are CloudWatch's business; locally they would only flood the output.
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

    const rawClient = createDynamoDbClient({ endpoint: dynamoDb.endpoint });
    await ensureTable(rawClient, tableName);
    await ensureIdempotencyTable(rawClient, tableName);
    const client = createDocumentClient(rawClient);
    const token = await devKey(new ApiKeyStore(client, tableName), join(dataDir, 'dev-key.json'));

    const authorizer = await importEntry<TokenAuthorizer>(authorizerEntry);
    server.attach(
      createLocalGateway({
        routes,
        loadHandler: (entry) => importEntry<ProxyHandler>(entry),
        authorizer,
        ...(options.authorizerCacheTtlSeconds !== undefined ? { authorizerCacheTtlSeconds: options.authorizerCacheTtlSeconds } : {}),
        ...(options.functionTimeoutSeconds !== undefined ? { functionTimeoutSeconds: options.functionTimeoutSeconds } : {}),
        ...(options.workspaceRateLimit ? { workspaceRateLimit: options.workspaceRateLimit } : {}),
        ...(options.log ? { log: options.log } : {}),
      }),
    );

    const info: DevStackInfo = {
      baseUrl: baseUrlOf(host, port),
      token,
      dynamodbEndpoint: dynamoDb.endpoint,
      tableName,
      ...(proxy ? { faultControlUrl: `${proxy.endpoint}/__faults` } : {}),
      ...(dynamoDb.process.pid !== undefined ? { dynamodbPid: dynamoDb.process.pid } : {}),
    };
    // Written whole, then renamed into place: a script polling for dev.json never reads half of it.
    writeFileSync(`${devJson}.tmp`, JSON.stringify(info, null, 2), { mode: 0o600 });
    renameSync(`${devJson}.tmp`, devJson);
    const db = dynamoDb;
    return {
      info,
      dynamoDb: db,
      server: server.placeholder,
      stop: async () => {
        rmSync(devJson, { force: true });
        server.placeholder.closeAllConnections();
        await new Promise<void>((r) => server.placeholder.close(() => r()));
        client.destroy();
        await closeProxy();
        await db.stop();
        releaseDataDir();
      },
    };
  } catch (error) {
    server.placeholder.close();
    await dynamoDb?.stop();
    releaseDataDir();
    throw error;
  }
}

/**
 * The server listens before the gateway exists (to claim the port early); requests that arrive in between are
 * answered 503 until the gateway is attached.
 */
function createLocalGatewayPlaceholder() {
  let gateway: Server | undefined;
  const placeholder = createGatewayHttpServer((request, response) => {
    if (gateway) gateway.emit('request', request, response);
    else {
      response.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
      response.end(JSON.stringify({ error: { code: 'unavailable', message: 'The local stack is starting', request_id: 'local' } }));
    }
  });
  // The HTTP parser's refusals, an Expect other than 100-continue and CONNECT go to the gateway too, which answers them
  // in the envelope (Node's own answers are a bare 400 or 417, and for CONNECT a closed connection); before the gateway
  // is attached, the connection is closed.
  for (const event of ['clientError', 'checkExpectation', 'connect'] as const) {
    placeholder.on(event, (...args: [unknown, { destroy(): void }, ...unknown[]]) => {
      if (gateway && gateway.listenerCount(event) > 0) gateway.emit(event, ...args);
      else args[1].destroy();
    });
  }
  return { placeholder, attach: (server: Server) => (gateway = server) };
}
