/**
 * `npm run bench:cpu`: the CPU our code adds to an upsert, without DynamoDB Local's noise. The upsert function's bundle
 * (built with the stack's settings, infra/function-bundling.ts) runs in a hot loop against an in-memory responder that
 * answers every DynamoDB request at once, alternating call by call with the same bundle's SDK sending the upsert's own
 * request raw and the plain raw write (lib/bench/raw-writes.ts). The handler's time minus its own request's is the
 * CPU of our code and its libraries (middy, Powertools); the raw request's is the SDK's own work per call.
 *
 * On this machine a call waiting on a real socket runs the same code about three times slower than this hot loop
 * (docs/performance-log.md), so these figures are a floor; their use is comparing versions of our code.
 * Usage: npm run bench:cpu [-- --samples N]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { bundleUpsertWithRawWrites, type UpsertWithRawWrites } from './bundle-like-the-stack.js';
import { median } from './statistics.js';
import { benchContext, upsertEvent } from './upsert-event.js';

const options = new Command('bench:cpu').option('--samples <n>', 'measured calls of each path', '10000').parse().opts<{ samples: string }>();
const samples = Number(options.samples);
if (!Number.isInteger(samples) || samples < 100) throw new Error('--samples must be an integer of at least 100');

// As in the in-process run of `npm run bench`: logs at ERROR, metrics off. The endpoint is never contacted.
Object.assign(process.env, {
  TABLE_NAME: 'bench',
  IDEMPOTENCY_TABLE_NAME: 'bench-idempotency',
  DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
  AWS_REGION: 'local',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
});

// One bundle holding the function and the raw writes, so both use one copy of the SDK and one client.
const bundle = (await import(await bundleUpsertWithRawWrites(join(mkdtempSync(join(tmpdir(), 'gather-cpu-')), 'upsert-and-raw.mjs')))) as UpsertWithRawWrites;

// The responder: an UpdateItem gets a stored record back (ALL_NEW), anything else (the model lookup) an empty answer.
const item = {
  pk: { S: 'R#dev#account#inproc-1' }, sk: { S: 'R' }, v: { N: '7' }, ca: { S: '2026-12-04T20:00:00.000Z' },
  ua: { S: '2026-12-04T20:00:01.000Z' }, lpk: { S: 'dev#account#3' }, lsk: { S: 'inproc-1' }, f_name: { S: 'inproc-1' }, f_n: { N: '12345' },
};
const updateAnswer = Buffer.from(JSON.stringify({ Attributes: item }));
const emptyAnswer = Buffer.from('{}');
const client = bundle.sharedDynamoDbClient();
client.config.requestHandler = {
  handle: async (request: { headers: Record<string, string> }) => ({
    response: {
      statusCode: 200,
      reason: 'OK',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'cpu-bench' },
      body: request.headers['x-amz-target']?.endsWith('.UpdateItem') ? updateAnswer : emptyAnswer,
    },
  }),
  updateHttpClientConfig: () => undefined,
  httpHandlerConfigs: () => ({}),
  destroy: () => undefined,
} as unknown as typeof client.config.requestHandler;

// Events are built before any clock starts, as Lambda's runtime builds them before the handler runs.
const events = Array.from({ length: 2 * samples }, (_, i) => upsertEvent(i));
const paths: Record<string, (i: number) => Promise<unknown>> = {
  handler: async (i) => {
    const response = await bundle.handler(events[i]!, benchContext);
    if (response.statusCode >= 300) throw new Error(`The upsert answered ${response.statusCode}: ${response.body}`);
  },
  upsertRequestRaw: (i) => bundle.rawUpsertRequest(client, 'bench', i),
  rawWrite: (i) => bundle.rawWrite(client, 'bench', `raw-${i % 1000}`, i),
};

for (let i = 0; i < samples; i += 1) for (const run of Object.values(paths)) await run(i);
const times: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map((name) => [name, []]));
for (let i = samples; i < 2 * samples; i += 1) {
  for (const [name, run] of Object.entries(paths)) {
    const started = performance.now();
    await run(i);
    times[name]!.push((performance.now() - started) * 1000);
  }
}
const us = Object.fromEntries(Object.entries(times).map(([name, values]) => [name, median(values)])) as Record<keyof typeof paths, number>;
console.log(`median us per call over ${samples} calls each (in-memory DynamoDB responder, hot loop):`);
console.log(`  upsert function             ${us.handler!.toFixed(1)}`);
console.log(`  its own request, sent raw   ${us.upsertRequestRaw!.toFixed(1)}   (the SDK's work for that request)`);
console.log(`  raw write                   ${us.rawWrite!.toFixed(1)}`);
console.log(`our code and its libraries: ${(us.handler! - us.upsertRequestRaw!).toFixed(1)} us per upsert`);
