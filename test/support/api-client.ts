/**
 * Test helpers: where the local stack is (from the global setup), a small HTTP client, and direct access to the stores
 * for setting up keys. Integration tests talk to the API only through HTTP.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Scope } from '../../lib/auth/scopes.js';
import { ApiKeyStore } from '../../lib/store/api-key-store.js';
import { createDocumentClient, createDynamoDbClient } from '../../lib/store/dynamodb-client.js';
import type { DevStackInfo } from '../../lib/local/local-stack.js';
import { checkAgainstOpenApi } from './openapi-validator.js';
import { runScript, type ScriptRun } from './script-process.js';

export function devStack(): DevStackInfo {
  const path = process.env.GATHER_DEV_JSON;
  if (!path) throw new Error('GATHER_DEV_JSON is not set: integration tests run through the jest global setup');
  return JSON.parse(readFileSync(path, 'utf8')) as DevStackInfo;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body (undefined for an empty body). */
  readonly body: any;
}

export interface RequestOptions {
  readonly json?: unknown;
  readonly form?: string | Record<string, string | string[]>;
  /** A raw body with its own Content-Type header. */
  readonly raw?: string | Uint8Array;
  readonly headers?: Record<string, string>;
  /** The API key; null sends no Authorization header. Defaults to the dev key. */
  readonly token?: string | null;
}

export async function call(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const stack = devStack();
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? stack.token : options.token;
  if (token !== null) headers.Authorization ??= `Token ${token}`;
  let body: string | Uint8Array | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['Content-Type'] ??= 'application/json';
  } else if (options.form !== undefined) {
    if (typeof options.form === 'string') body = options.form;
    else {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(options.form)) for (const v of [value].flat()) params.append(key, v);
      body = params.toString();
    }
    headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
  } else if (options.raw !== undefined) {
    body = options.raw;
  }
  const response = await fetch(stack.baseUrl + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  checkAgainstOpenApi(method, stack.baseUrl + path, response.status, response.headers, text);
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

/** A value no other test uses, so tests never see each other's records. */
export function unique(prefix = 'r'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function keyStore(): { store: ApiKeyStore; close: () => void } {
  const stack = devStack();
  const raw = createDynamoDbClient({ endpoint: stack.dynamodbEndpoint });
  return { store: new ApiKeyStore(createDocumentClient(raw), stack.tableName), close: () => raw.destroy() };
}

/** A new workspace with a key of the given scopes. */
export async function workspaceWithKey(scopes: readonly Scope[]): Promise<{ workspace: string; token: string }> {
  const { store, close } = keyStore();
  try {
    const workspace = unique('ws');
    await store.createWorkspace(workspace);
    const created = await store.createApiKey({ workspace, scopes });
    return { workspace, token: created.key };
  } finally {
    close();
  }
}

/** Asserts the error envelope of SPEC section 4 and returns its code. */
export function errorCode(response: ApiResponse): string {
  const error = response.body?.error;
  if (!error || typeof error.code !== 'string' || typeof error.message !== 'string' || typeof error.request_id !== 'string') {
    throw new Error(`Expected the error envelope, got ${response.status}: ${response.text}`);
  }
  return error.code;
}

/**
 * A log line about one request (by the `x-amzn-RequestId` its answer carried), from everything the shared stack wrote
 * (GATHER_GATEWAY_LOG). A line reaches the file a moment after the answer, so this waits up to 5 s; a line still being
 * written does not parse yet, and is read again on the next look.
 */
async function logLineFor(requestId: string, wanted: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  const parsed = (line: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = readFileSync(process.env.GATHER_GATEWAY_LOG!, 'utf8').split('\n').filter((line) => line.startsWith('{') && line.includes(requestId));
    const found = lines.map(parsed).find((line) => line !== undefined && line.request_id === requestId && wanted(line));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`No ${what} line for ${requestId} in the stack's log`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The handler's log line for one request (Powertools, `message: "request"`). */
export const requestLogLine = (requestId: string) => logLineFor(requestId, (line) => line.message === 'request', 'handler request');

/**
 * The local gateway's access line for one request (method, route template or null, status, ms, and no message: the handler's line has
 * one), written last, also for requests no handler saw (a 401).
 */
export const gatewayLogLine = (requestId: string) => logLineFor(requestId, (line) => line.message === undefined && 'route' in line && 'status' in line, 'gateway access');

/** The data directory of the shared local stack (where its dev.json is). */
export function devDataDir(): string {
  const path = process.env.GATHER_DEV_JSON;
  if (!path) throw new Error('GATHER_DEV_JSON is not set');
  return path.replace(/[\\/]dev\.json$/, '');
}

/** Runs `npm run admin -- <args>` as an operator would (the same entry, a separate process) against the shared stack. */
export function adminCli(args: readonly string[], env: Record<string, string> = {}): Promise<ScriptRun> {
  return runScript('lib/admin/run-admin.ts', args, { env: { DATA_DIR: devDataDir(), ...env } });
}
