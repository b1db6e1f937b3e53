/**
 * The in-process latency of `npm run bench`, in a Node process of its own, as a warm Lambda container is: the process
 * holds the upsert function's bundle (argv[2]) and this file's own bundle (built with the same esbuild settings), and
 * nothing of the bench (its local gateway, autocannon, esbuild, the other bundles). It alternates, call by call, a raw
 * UpdateItem, the upsert's own request sent raw, and the handler invoked with an event whose authorizer context is
 * already set (a warm authorizer). It prints the latencies as one JSON line, each call's time in all and in its HTTP
 * exchange with DynamoDB Local. DynamoDB Local and the table come from the
 * environment the bench started (DYNAMODB_ENDPOINT, TABLE_NAME).
 */
import { subscribe } from 'node:diagnostics_channel';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { requireEnv } from '../config.js';
import { createDynamoDbClient } from '../store/dynamodb-client.js';
import { rawUpsertRequest, rawWrite } from './raw-writes.js';

/** Milliseconds per call: in all, and in the HTTP exchange with DynamoDB Local (the rest is Node's work). */
export interface Timings {
  readonly total: number[];
  readonly exchange: number[];
}

export interface InProcessLatencies {
  readonly raw: Timings;
  readonly rawUpsertRequest: Timings;
  readonly inProcess: Timings;
}

const timings = (): Timings => ({ total: [], exchange: [] });

const [bundle, samplesArgument] = process.argv.slice(2);
const samples = Number(samplesArgument);
if (!bundle || !Number.isInteger(samples) || samples < 1) throw new Error('usage: in-process-worker <upsert bundle> <samples>');
const tableName = requireEnv('TABLE_NAME');
// The raw side's client is built as the functions build theirs (same options, its own connection pool).
const client = createDynamoDbClient();
const { handler } = (await import(bundle)) as { handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult> };
const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 20_000 } as unknown as Context;
const upsertEvent = (i: number): APIGatewayProxyEvent => ({
  resource: '/models/{model}/records',
  path: '/models/account/records',
  httpMethod: 'POST',
  headers: { 'Content-Type': 'application/json' },
  multiValueHeaders: {},
  queryStringParameters: null,
  multiValueQueryStringParameters: null,
  pathParameters: { model: 'account' },
  stageVariables: null,
  body: Buffer.from(JSON.stringify({ name: `inproc-${i % 1000}`, n: i })).toString('base64'),
  isBase64Encoded: true,
  requestContext: { requestId: `b${i}`, stage: 'local', authorizer: { workspace: 'dev', scopes: 'records:read,records:write,models:write' } } as never,
});
const raw = (i: number) => rawWrite(client, tableName, `raw-${i % 1000}`, i);
const shaped = (i: number) => rawUpsertRequest(client, tableName, i);
const invoke = async (i: number) => {
  const response = await handler(upsertEvent(i), context);
  if (response.statusCode >= 300) throw new Error(`The in-process upsert answered ${response.statusCode}: ${response.body}`);
};
// The time each call spends in its HTTP exchange with DynamoDB Local (request start to response end), from Node's own
// diagnostics channels, so it counts every SDK copy in the process. Calls run one at a time, so one start is open.
let exchangeMs = 0;
let exchangeStarted = 0;
subscribe('http.client.request.start', () => void (exchangeStarted = performance.now()));
subscribe('http.client.response.finish', () => void (exchangeMs += performance.now() - exchangeStarted));
const time = async (run: () => Promise<unknown>, into: Timings) => {
  const exchangeBefore = exchangeMs;
  const started = performance.now();
  await run();
  into.total.push(performance.now() - started);
  into.exchange.push(exchangeMs - exchangeBefore);
};

// Warm-up: twice as many calls of each as are measured, so all three paths are as warm in the JIT.
for (let i = 0; i < 2 * samples; i += 1) {
  await invoke(i);
  await raw(i);
  await shaped(i);
}
// The three alternate call by call, so they all see the same state of DynamoDB Local and of the machine. Every call
// changes its record (n grows), so none is an "unchanged" no-op.
const latencies: InProcessLatencies = { raw: timings(), rawUpsertRequest: timings(), inProcess: timings() };
for (let i = 2 * samples; i < 3 * samples; i += 1) {
  await time(() => raw(i), latencies.raw);
  await time(() => shaped(i), latencies.rawUpsertRequest);
  await time(() => invoke(i), latencies.inProcess);
}
process.stdout.write(`${JSON.stringify(latencies)}\n`);
client.destroy();
