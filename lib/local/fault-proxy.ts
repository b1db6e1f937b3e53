/**
 * A small HTTP proxy in front of DynamoDB Local that can answer with DynamoDB's own error responses, because DynamoDB
 * Local never throttles or fails. Tests start a local stack with it (GATHER_FAULT_PROXY=1) and steer it through
 * `POST /__faults` on the proxy's port: `{"error": "throttle" | "internal" | "unavailable" | "stall", "count"?: n,
 * "operations"?: ["UpdateItem", ...], "tables"?: [...], "bodyIncludes"?: "text"}` fails the next n matching calls (every matching call when count is absent);
 * `stall` never answers them, as a DynamoDB that stopped responding without closing its connections; `lost-answer`
 * forwards them and cuts the connection once DynamoDB has answered, as a network that loses a reply (or an answer
 * later than the client's timeout): the call was applied, and the client, not knowing it, sends it again;
 * `slow` forwards them after `delayMs`, as a DynamoDB slow enough for a batch to reach its deadline; `DELETE /__faults`
 * clears it. `GET /__faults` reports how many calls a rule caught (`failed`) and how many were forwarded, and the
 * forwarded ones by operation (`operations`; the actions inside transactions also by the IAM action each needs,
 * `transactActions`), so a test can count what one request costs; and the kinds of items calls
 * named, by operation and partition-key prefix (`leadingKeys`, e.g. `"UpdateItem R#": 3`; keys and queries of the
 * table, not of an index), and the indexes queries read (`indexes`, e.g. `"list": 2`), so a test can check them against
 * the functions' IAM grants.
 */
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultKind = 'throttle' | 'internal' | 'unavailable' | 'stall' | 'lost-answer' | 'slow';

export interface FaultRule {
  readonly error: FaultKind;
  /** How many matching calls to fail; undefined fails every one until cleared. */
  readonly count?: number;
  /** DynamoDB operations to fail (`UpdateItem`, `GetItem`, ...); undefined fails all. */
  readonly operations?: readonly string[];
  /** Tables whose calls fail (by the request's `TableName`, or a transaction's actions'); undefined fails calls to any table. */
  readonly tables?: readonly string[];
  /** For `slow`: how long each matching call waits before it is forwarded. */
  readonly delayMs?: number;
  /** Only calls whose request body holds this text (one kind of write among a table's, e.g. `:response_data`). */
  readonly bodyIncludes?: string;
}

/** The status and body DynamoDB itself sends for each kind of failure. */
const responses: Record<Exclude<FaultKind, 'stall' | 'lost-answer' | 'slow'>, { status: number; type: string; message: string }> = {
  throttle: {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
  internal: { status: 500, type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error' },
  unavailable: { status: 503, type: 'com.amazonaws.dynamodb.v20120810#ServiceUnavailableException', message: 'Service unavailable' },
};

export interface FaultProxy {
  readonly endpoint: string;
  inject(rule: FaultRule): void;
  clear(): void;
  readonly stats: ProxyStats;
  close(): Promise<void>;
}

export interface ProxyStats {
  failed: number;
  forwarded: number;
  operations: Record<string, number>;
  leadingKeys: Record<string, number>;
  indexes: Record<string, number>;
  /** The actions inside transactions, by the IAM action each needs (`PutItem` for a `Put`): TransactWriteItems has none. */
  transactActions: Record<string, number>;
}

/** What the proxy reads of a call's body: its table, and the items it names. */
interface CallBody {
  readonly TableName?: string;
  readonly Key?: { readonly pk?: { readonly S?: string } };
  readonly Item?: { readonly pk?: { readonly S?: string } };
  readonly RequestItems?: Record<string, { readonly Keys?: CallBody['Key'][] } | { readonly PutRequest?: { Item: CallBody['Item'] }; readonly DeleteRequest?: { Key: CallBody['Key'] } }[]>;
  readonly TransactItems?: Record<string, CallBody>[];
  readonly IndexName?: string;
  readonly KeyConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, { readonly S?: string }>;
}

/**
 * The partition keys (`pk`) of the items a call reads or writes by key, and of the partition a query of the table
 * reads: what IAM's `dynamodb:LeadingKeys` is checked against. Queries of an index are left out (their partition key
 * is the index's, and the stack grants them without that condition).
 */
function partitionKeysOf(body: CallBody): string[] {
  const keys: (string | undefined)[] = [body.Key?.pk?.S, body.Item?.pk?.S];
  if (body.KeyConditionExpression !== undefined && body.IndexName === undefined) {
    for (const [, name, value] of body.KeyConditionExpression.matchAll(/(#?\w+)\s*=\s*(:\w+)/g)) {
      if ((body.ExpressionAttributeNames?.[name!] ?? name) === 'pk') keys.push(body.ExpressionAttributeValues?.[value!]?.S);
    }
  }
  for (const request of Object.values(body.RequestItems ?? {})) {
    if (Array.isArray(request)) for (const write of request) keys.push(write.PutRequest?.Item?.pk?.S, write.DeleteRequest?.Key?.pk?.S);
    else for (const key of request.Keys ?? []) keys.push(key?.pk?.S);
  }
  for (const item of body.TransactItems ?? []) for (const action of Object.values(item)) keys.push(...partitionKeysOf(action));
  return keys.filter((key): key is string => key !== undefined);
}

/** A partition key's kind, as a grant names it: up to its first `#` (`R#`, `W#`, `K#`), or the whole key. */
const leadingKeyOf = (key: string) => (key.includes('#') ? key.slice(0, key.indexOf('#') + 1) : key);

function readAll(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let rule: (FaultRule & { remaining?: number }) | undefined;
  const stats: ProxyStats = { failed: 0, forwarded: 0, operations: {}, leadingKeys: {}, indexes: {}, transactActions: {} };

  const control = async (request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'POST') {
      const parsed = JSON.parse((await readAll(request)).toString('utf8')) as FaultRule;
      rule = { ...parsed, ...(parsed.count !== undefined ? { remaining: parsed.count } : {}) };
    } else if (request.method === 'DELETE') {
      rule = undefined;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ rule: rule ?? null, ...stats }));
  };

  const server: Server = createServer((request, response) => {
    if (request.url?.startsWith('/__faults')) {
      control(request, response).catch((error: unknown) => {
        response.writeHead(400);
        response.end(String(error));
      });
      return;
    }
    const operation = String(request.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    const matches = (tables: readonly string[], body: Buffer) =>
      rule !== undefined &&
      (rule.remaining === undefined || rule.remaining > 0) &&
      (!rule.operations || rule.operations.includes(operation)) &&
      (!rule.tables || rule.tables.some((table) => tables.includes(table))) &&
      (rule.bodyIncludes === undefined || body.includes(rule.bodyIncludes));
    const fail = (body: Buffer) => {
      if (rule!.remaining !== undefined) rule!.remaining -= 1;
      stats.failed += 1;
      // Held open without an answer until the caller gives up (or the proxy closes).
      if (rule!.error === 'stall') return;
      if (rule!.error === 'lost-answer') {
        forward(body, true);
        return;
      }
      if (rule!.error === 'slow') {
        setTimeout(() => forward(body), rule!.delayMs ?? 0);
        return;
      }
      const fault = responses[rule!.error];
      response.writeHead(fault.status, { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-RequestId': `fault-${stats.failed}` });
      response.end(JSON.stringify({ __type: fault.type, message: fault.message }));
    };
    const forward = (body: Buffer, loseAnswer = false) => {
      stats.forwarded += 1;
      stats.operations[operation] = (stats.operations[operation] ?? 0) + 1;
      const upstreamRequest = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers },
        (upstreamResponse) => {
          if (loseAnswer) {
            // DynamoDB has done the call; its answer is read to the end and never reaches the caller.
            upstreamResponse.resume();
            upstreamResponse.on('end', () => response.destroy());
            return;
          }
          response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
          upstreamResponse.pipe(response);
        },
      );
      // DynamoDB Local down: the caller sees the connection fail, as it would without the proxy.
      upstreamRequest.on('error', () => response.destroy());
      upstreamRequest.end(body);
    };
    // The body says which table a call is for, and which items it touches: read whole before anything is decided.
    readAll(request).then(
      (body) => {
        let parsed: CallBody = {};
        try {
          parsed = JSON.parse(body.toString('utf8')) as CallBody;
        } catch {
          // Not JSON: forwarded as it is, for DynamoDB Local to refuse.
        }
        for (const key of partitionKeysOf(parsed)) {
          const counted = `${operation} ${leadingKeyOf(key)}`;
          stats.leadingKeys[counted] = (stats.leadingKeys[counted] ?? 0) + 1;
        }
        if (parsed.IndexName !== undefined) stats.indexes[parsed.IndexName] = (stats.indexes[parsed.IndexName] ?? 0) + 1;
        for (const item of parsed.TransactItems ?? []) {
          for (const action of Object.keys(item)) {
            const iamAction = action === 'ConditionCheck' ? 'ConditionCheckItem' : `${action}Item`;
            stats.transactActions[iamAction] = (stats.transactActions[iamAction] ?? 0) + 1;
          }
        }
        // A transaction names its tables in its actions.
        const tables = [parsed.TableName, ...(parsed.TransactItems ?? []).flatMap((item) => Object.values(item).map((action) => action.TableName))];
        if (matches(tables.filter((table): table is string => table !== undefined), body)) fail(body);
        else forward(body);
      },
      () => response.destroy(),
    );
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject: (next) => (rule = { ...next, ...(next.count !== undefined ? { remaining: next.count } : {}) }),
    clear: () => (rule = undefined),
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
