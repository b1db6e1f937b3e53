/**
 * The in-process latency of `npm run bench`, in a Node process of its own, as a warm Lambda container is: the process
 * holds one bundle (argv[2], lib/bench/bundle-like-the-stack.ts `bundleUpsertWithRawWrites`) with the upsert function
 * and the raw writes, built with the stack's esbuild settings, so both sides run the same copy of the SDK through the
 * function's own client; nothing of the bench (its local gateway, autocannon, esbuild, the other bundles) is here. It
 * alternates, call by call, a raw UpdateItem, the upsert's own request sent raw, and the handler invoked with an event
 * whose authorizer context is already set (a warm authorizer). It prints the latencies as one JSON line, each call's
 * time in all and in its HTTP exchange with DynamoDB Local. DynamoDB Local and the table come from the environment the
 * bench started (DYNAMODB_ENDPOINT, TABLE_NAME).
 */
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { requireEnv } from '../config.js';
import type { UpsertWithRawWrites } from './bundle-like-the-stack.js';
import { benchContext, upsertEvent } from './upsert-event.js';

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

const [bundleFile, samplesArgument] = process.argv.slice(2);
const samples = Number(samplesArgument);
if (!bundleFile || !Number.isInteger(samples) || samples < 1) throw new Error('usage: in-process-worker <upsert-with-raw-writes bundle> <samples>');
const tableName = requireEnv('TABLE_NAME');
const { handler, sharedDynamoDbClient, rawWrite, rawUpsertRequest } = (await import(bundleFile)) as UpsertWithRawWrites;
// The function's own client: the raw side shares its SDK code and its connections, as a second handler in the same
// Lambda container would.
const client = sharedDynamoDbClient();
const raw = (i: number) => rawWrite(client, tableName, `raw-${i % 1000}`, i);
const shaped = (i: number) => rawUpsertRequest(client, tableName, i);
// The event is built before the clock starts, as Lambda's runtime builds it before the handler runs.
const invoke = async (event: APIGatewayProxyEvent) => {
  const response = await handler(event, benchContext);
  if (response.statusCode >= 300) throw new Error(`The in-process upsert answered ${response.statusCode}: ${response.body}`);
};
// The time each call spends in its HTTP exchange with DynamoDB Local, from Node's own diagnostics channels (so it
// needs no hook inside the SDK): from the moment Node's http client creates the request to the end of the
// response's body. `http.client.request.created` fires as the request is built, before anything is written;
// `http.client.request.start`, despite its name, fires only once the request has been written to the socket, and
// measured from it the socket write (about 0.05 ms a call here, the same for every path) counted as Node's work. The
// account model has no link, so an upsert makes one request at a time; a second one open at once would make the sum
// meaningless, and fails the run.
let exchangeMs = 0;
let open: ClientRequest | undefined;
let openedAt = 0;
subscribe('http.client.request.created', (message) => {
  if (open) throw new Error('Two DynamoDB requests at once: the HTTP exchange time would not be one call');
  open = (message as { request: ClientRequest }).request;
  openedAt = performance.now();
});
subscribe('http.client.response.finish', (message) => {
  const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
  if (request !== open) throw new Error('A response to a request this worker did not see start');
  response.once('end', () => {
    exchangeMs += performance.now() - openedAt;
    open = undefined;
  });
});
const time = async (run: () => Promise<unknown>, into: Timings) => {
  const exchangeBefore = exchangeMs;
  const started = performance.now();
  await run();
  into.total.push(performance.now() - started);
  into.exchange.push(exchangeMs - exchangeBefore);
};

// Warm-up: twice as many calls of each as are measured, so all three paths are as warm in the JIT.
for (let i = 0; i < 2 * samples; i += 1) {
  await invoke(upsertEvent(i));
  await raw(i);
  await shaped(i);
}
// The three alternate call by call, so they all see the same state of DynamoDB Local and of the machine. Every call
// changes its record (n grows), so none is an "unchanged" no-op.
const latencies: InProcessLatencies = { raw: timings(), rawUpsertRequest: timings(), inProcess: timings() };
for (let i = 2 * samples; i < 3 * samples; i += 1) {
  const event = upsertEvent(i);
  const calls: [() => Promise<unknown>, Timings][] = [
    [() => raw(i), latencies.raw],
    [() => shaped(i), latencies.rawUpsertRequest],
    [() => invoke(event), latencies.inProcess],
  ];
  // The order rotates round by round, so no path always runs right after the same other one.
  for (let k = 0; k < calls.length; k += 1) {
    const [run, into] = calls[(i + k) % calls.length]!;
    await time(run, into);
  }
}
process.stdout.write(`${JSON.stringify(latencies)}\n`);
client.destroy();
