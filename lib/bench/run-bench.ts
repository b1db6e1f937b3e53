/**
 * `npm run bench`: every figure is a ratio against a baseline measured in the same run, on DynamoDB Local.
 * - raw UpdateItem through the SDK: p50/p99 at concurrency 1, throughput at concurrency 32;
 * - the upsert function's code, bundled as deployed, invoked in-process (authorizer already cached): p50/p99 at
 *   concurrency 1, in Node processes of their own (lib/bench/in-process-worker.ts; five fresh ones in turn, the ratio
 *   the median of theirs), alternating call by call with the raw write (and with a raw write of the upsert's own
 *   request, to show how much of the difference is DynamoDB's work and how much is our code), all three in one bundle
 *   with one copy of the SDK and one client, each call's time split into its HTTP exchange with DynamoDB Local and
 *   Node's own work;
 * - HTTP upserts through the local gateway with autocannon at 32 connections: throughput, p50/p99;
 * - a 1,000-record batch against 1,000 raw UpdateItems at the batch's own concurrency, twenty rounds in ABBA order;
 * - DynamoDB calls per operation, counted by an SDK middleware on the handlers' own client;
 * - each function's bundle size (infra/function-bundling.ts, the stack's settings) and cold init (a fresh Node process
 *   importing the bundle), paired run by run with a bundle that imports only the DynamoDB client: the ratio is the
 *   median of the pairs' ratios, so a machine that slows down between runs slows both sides of a pair.
 * It prints a table, writes bench/results.json and draws docs/bench-latency.svg. Targets are reported, not asserted.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { batchLimits } from '../records/batch-service.js';
import { authorizerEntry, functionsByEntry, scheduledTestEntry } from '../routes.js';
import { sharedDynamoDbClient } from '../store/dynamodb-client.js';
import { apiKeyItemPrefix } from '../store/keys.js';
import { startLocalStack, repositoryRoot } from '../local/local-stack.js';
import type { InProcessLatencies, Timings } from './in-process-worker.js';
import { bundleLikeTheStack, bundleUpsertWithRawWrites } from './bundle-like-the-stack.js';
import { rawWrite } from './raw-writes.js';
import { median, percentile } from './statistics.js';

process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
const quick = process.argv.includes('--quick');
const samples = quick ? 100 : 1000;
// Fresh worker processes for the in-process latency: one process's ratio differs from the next by up to 0.05x with the
// same code and the same DynamoDB Local (its own JIT decisions and memory layout; docs/capacity.md), so the ratio is
// the median of several processes' ratios.
const inProcessWorkers = quick ? 1 : 5;
const loadSeconds = quick ? 3 : 10;
// The function whose cold init the target reads. Cold init pairs: 21 for it, 11 for every other bundle (the issue asks
// for a median of at least 10). With 21 for all sixteen bundles the cold-init phase took 118 s of an 8.4 min run on the
// slowest machine yet (2026-12-05), most of it on figures no target reads.
const coldInitTarget = 'upsert-record';
const targetColdPairs = quick ? 5 : 21;
const otherColdPairs = quick ? 5 : 11;
const coldPairsOf = (name: string) => (name === coldInitTarget ? targetColdPairs : otherColdPairs);
// One round's batch-to-raw ratio swings from about 0.5x to 1.1x from one round to the next, and the median of six
// rounds from 0.84x to 0.97x in one session where 96 rounds gave 0.89x (docs/performance-log.md); twenty rounds, about 17 s,
// give the median about half that spread.
const batchRounds = quick ? 2 : 20;
const execFileAsync = promisify(execFile);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
// How long each part of the run took, in seconds: the issue wants the whole run under 10 minutes on this machine, and
// the fixed call counts (in-process) and process starts (cold init) take longer on a slower machine.
const benchStarted = performance.now();
const phaseSeconds: Record<string, number> = {};
let phaseStarted = benchStarted;
const endPhase = (name: string) => {
  const now = performance.now();
  phaseSeconds[name] = round((now - phaseStarted) / 1000, 1);
  phaseStarted = now;
};

async function throughput(concurrency: number, seconds: number, run: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await run(next++);
        done += 1;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

// --- the stack, and a counter of DynamoDB calls on the handlers' own client -----------------------------------
const stack = await startLocalStack({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'gather-bench-')), inMemory: true, log: () => undefined });
endPhase('local stack start');
const { baseUrl, token, tableName } = stack.info;
const client = sharedDynamoDbClient();
/** Every call the handlers and the authorizer make, by command, and whether it names an API key item (`K#`). */
const calls: { readonly command: string; readonly keyItem: boolean }[] = [];
client.middlewareStack.add(
  (next, context) => async (args) => {
    // The item's partition key: plain from the document client's commands, typed ({ S }) from the low-level ones.
    const pk = (args.input as { Key?: { pk?: unknown } }).Key?.pk;
    const pkText = typeof pk === 'string' ? pk : (pk as { S?: string } | undefined)?.S;
    calls.push({ command: String((context as { commandName?: string }).commandName), keyItem: pkText?.startsWith(apiKeyItemPrefix) === true });
    return next(args);
  },
  { step: 'initialize', name: 'benchCallCounter' },
);
// Every DynamoDB command is one or the other; one that is neither stops the run rather than going uncounted.
const readCommand = /^(GetItem|BatchGetItem|Query|Scan|TransactGetItems)Command$/;
const writeCommand = /^(UpdateItem|PutItem|DeleteItem|BatchWriteItem|TransactWriteItems)Command$/;
async function count(run: () => Promise<unknown>, which: (call: (typeof calls)[number]) => boolean = () => true): Promise<{ reads: number; writes: number }> {
  calls.length = 0;
  await run();
  const counted = calls.filter(which);
  const other = counted.filter(({ command }) => !readCommand.test(command) && !writeCommand.test(command));
  if (other.length > 0) throw new Error(`Calls the benchmark does not count as a read or a write: ${other.map(({ command }) => command).join(', ')}`);
  return { reads: counted.filter(({ command }) => readCommand.test(command)).length, writes: counted.filter(({ command }) => writeCommand.test(command)).length };
}

/** One request; an answer other than the one expected stops the run, since what it counts or times did not happen. */
const http = async (method: string, path: string, body: unknown, expected: readonly number[]) => {
  const response = await fetch(baseUrl + path, {
    method,
    headers: { Authorization: `Token ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (!expected.includes(response.status)) throw new Error(`${method} ${path} answered ${response.status}, not ${expected.join(' or ')}: ${text.slice(0, 500)}`);
  return { status: response.status, text };
};
/** A batch answer in which every item was written (200 or 201); a round with any other item cannot be timed. */
const allWritten = (answer: { status: number; text: string }, items: number) => {
  const results = (JSON.parse(answer.text) as { results: { status: number }[] }).results;
  const other = results.filter((result) => result.status !== 200 && result.status !== 201);
  if (results.length !== items || other.length > 0) {
    throw new Error(`A batch of ${items} answered ${results.length} results, ${other.length} not written (${JSON.stringify(other.slice(0, 3))})`);
  }
  return answer.status;
};

// --- bundles, built as the stack builds them (before anything else, so the in-process run uses the real bundle) ---
const bundleDir = mkdtempSync(join(tmpdir(), 'gather-bundles-'));
const bundle = (name: string, entry: string | { contents: string }) => bundleLikeTheStack(entry, join(bundleDir, `${name}.mjs`));
const sdkOnly = "import { DynamoDBClient } from '@aws-sdk/client-dynamodb'; export const client = new DynamoDBClient({});";
const baselineFile = await bundle('sdk-only', { contents: `${sdkOnly} export const handler = async () => client;` });
// What the libraries cost at cold start: the SDK-only bundle plus one of them, each used as the functions use it.
const componentFiles = new Map<string, string>([
  ['sdk + middy (core)', await bundle('with-middy', {
    contents: `${sdkOnly} import middy from '@middy/core';
      export const handler = middy().handler(async () => client);`,
  })],
  ['sdk + Powertools logger and metrics', await bundle('with-powertools-observability', {
    contents: `${sdkOnly} import { Logger } from '@aws-lambda-powertools/logger';
      import { Metrics } from '@aws-lambda-powertools/metrics';
      const logger = new Logger({ serviceName: 'gather' }); const metrics = new Metrics({ namespace: 'Gather', serviceName: 'gather' });
      export const handler = async (event, context) => { logger.addContext(context); metrics.captureColdStartMetric(context.functionName); metrics.publishStoredMetrics(); return client; };`,
  })],
  ['sdk + Powertools idempotency', await bundle('with-powertools-idempotency', {
    contents: `${sdkOnly} import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
      import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb'; import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
      const persistenceStore = new DynamoDBPersistenceLayer({ tableName: 'i', awsSdkV3Client: client });
      export const middleware = makeHandlerIdempotent({ persistenceStore, config: new IdempotencyConfig({ eventKeyJmesPath: 'body' }) }); export const handler = async () => client;`,
  })],
]);
const functionFiles = new Map<string, string>();
for (const entry of [...functionsByEntry().keys(), authorizerEntry, scheduledTestEntry]) {
  const name = entry.replace(/^functions\/|\.ts$/g, '');
  functionFiles.set(name, await bundle(name, entry));
}

endPhase('bundles');

// --- raw UpdateItem (lib/bench/raw-writes.ts) --------------------------------------------------------------------
const rawUpdate = (i: number) => rawWrite(client, tableName, `raw-${i % 1000}`, i);
// Warm-up until DynamoDB Local runs at its steady pace, so every figure below compares our code with a server that
// has stopped speeding up. Its JVM needs 30 to 40 s of load at c=32 to get there (on this machine, from a fresh
// start: 380/s in the first 5 s, about 1,500/s from 35 s on); with a fixed 5 s warm-up, the raw throughput measured
// just before the HTTP run was half of the one measured just after it. Slices of 5 s at c=32, until the last three
// are within 10% of each other (at most 18 slices); the SDK gets as warm in the JIT.
// (--quick: one 2 s slice.)
const warmUpSliceSeconds = quick ? 2 : 5;
const warmUpRates: number[] = [];
const warmUpSettled = () => {
  const last = warmUpRates.slice(-3);
  return last.length === 3 && Math.max(...last) <= 1.1 * Math.min(...last);
};
do {
  warmUpRates.push(Math.round(await throughput(32, warmUpSliceSeconds, rawUpdate)));
} while (!quick && !warmUpSettled() && warmUpRates.length < 18);

endPhase('warm-up');

// --- in-process latency: raw, the upsert's own request raw, and the upsert function's bundle ---------------------
// In processes of their own (lib/bench/in-process-worker.ts), as a warm Lambda container runs only its function, one
// after the other.
const workerFile = await bundle('in-process-worker', 'lib/bench/in-process-worker.ts');
const upsertWithRawWrites = await bundleUpsertWithRawWrites(join(bundleDir, 'upsert-record-with-raw-writes.mjs'));
const inProcessRuns: InProcessLatencies[] = [];
for (let run = 0; run < inProcessWorkers; run += 1) {
  const worker = await execFileAsync(process.execPath, [workerFile, upsertWithRawWrites, String(samples)], {
    env: process.env,
    maxBuffer: 64 * 1024 * 1024,
  });
  inProcessRuns.push(JSON.parse(worker.stdout) as InProcessLatencies);
}
/** One path's timings of every worker, pooled, for its percentiles and its split. */
const pooled = (path: keyof InProcessLatencies): Timings => ({
  total: inProcessRuns.flatMap((run) => run[path].total),
  exchange: inProcessRuns.flatMap((run) => run[path].exchange),
});
const inProcessRun: InProcessLatencies = { raw: pooled('raw'), rawUpsertRequest: pooled('rawUpsertRequest'), inProcess: pooled('inProcess') };
const { raw: { total: rawLatency }, rawUpsertRequest: { total: rawShapeLatency }, inProcess: { total: inProcessLatency } } = inProcessRun;
/** Each worker's p50 ratio of two paths, both measured side by side in that one process. */
const workerRatios = (path: keyof InProcessLatencies, base: keyof InProcessLatencies) =>
  inProcessRuns.map((run) => median(run[path].total) / median(run[base].total));
const inProcessWorkerRatios = workerRatios('inProcess', 'raw');

endPhase('in-process');

// --- HTTP through the local gateway ----------------------------------------------------------------------------
await http('POST', '/models/account/records', { name: 'warm' }, [200, 201]);
let httpCounter = 0;
// Raw throughput is measured in two halves around the HTTP run, so both see DynamoDB Local in the same state.
const rawThroughputBefore = await throughput(32, loadSeconds / 2, rawUpdate);
const cannon = await autocannon({
  url: baseUrl,
  connections: 32,
  duration: loadSeconds,
  requests: [
    {
      method: 'POST',
      path: '/models/account/records',
      headers: { Authorization: `Token ${token}`, 'Content-Type': 'application/json' },
      setupRequest: (request) => ({ ...request, body: JSON.stringify({ name: `http-${httpCounter++ % 1000}`, n: httpCounter }) }),
    },
  ],
});
const httpThroughput = cannon.requests.average;
const httpNon2xx = cannon.non2xx;
const rawThroughputAfter = await throughput(32, loadSeconds / 2, rawUpdate);
const rawThroughput = (rawThroughputBefore + rawThroughputAfter) / 2;

endPhase('HTTP');

// --- a 1,000-record batch against raw parallel UpdateItem at the same concurrency ------------------------------
// Rounds alternate the batch and the raw writes; every round creates 1,000 new records on each side.
// Warm-up: one full batch, as warm in the JIT as the raw writes are after the throughput run.
allWritten(await http('POST', '/models/account/batch', { records: Array.from({ length: 1000 }, (_, i) => ({ name: `batch-warm-${i}`, n: i })) }, [200]), 1000);
const batchRates: number[] = [];
const rawParallelRates: number[] = [];
let batchStatus = 0;
const timeBatch = async (round: number) => {
  const batchBody = { records: Array.from({ length: 1000 }, (_, i) => ({ name: `batch-${round}-${i}`, n: i })) };
  const started = performance.now();
  const answer = await http('POST', '/models/account/batch', batchBody, [200]);
  const seconds = (performance.now() - started) / 1000;
  batchStatus = allWritten(answer, 1000);
  batchRates.push(1000 / seconds);
};
const timeRawParallel = async (round: number) => {
  const started = performance.now();
  let nextRaw = 0;
  await Promise.all(
    Array.from({ length: batchLimits.concurrency }, async () => {
      for (let i = nextRaw++; i < 1000; i = nextRaw++) await rawWrite(client, tableName, `raw-batch-${round}-${i}`, i);
    }),
  );
  rawParallelRates.push(1000 / ((performance.now() - started) / 1000));
};
// ABBA order (batch first, then raw first, ...), so neither side always runs right after the other.
for (let round = 0; round < batchRounds; round += 1) {
  if (round % 2 === 0) {
    await timeBatch(round);
    await timeRawParallel(round);
  } else {
    await timeRawParallel(round);
    await timeBatch(round);
  }
}

endPhase('batch');

// --- DynamoDB calls per operation ------------------------------------------------------------------------------
// Warm: the account and customer model definitions are cached, as in a warm function.
await http('POST', '/models/account/records', { name: 'Counted Co' }, [200, 201]);
await http('POST', '/models/customer/records', { email: 'warm@x.io' }, [200, 201]);
// Each counted request must do what it is counted for: the upserts change their record, the GET finds it, the DELETE
// deletes it.
const ddbCalls = {
  upsert_account: await count(() => http('POST', '/models/account/records', { name: 'Counted Co', n: Math.random() }, [200])),
  upsert_customer_with_account: await count(() => http('POST', '/models/customer/records', { email: 'counted@x.io', account: 'Counted Co', n: Math.random() }, [200, 201])),
  get_account: await count(() => http('GET', '/models/account/records/Counted%20Co', undefined, [200])),
  delete_account: await count(() => http('DELETE', '/models/account/records/Counted%20Co', undefined, [204])),
  // The key is in the gateway's authorizer cache (as in API Gateway: the stage caches the authorizer's answer for its
  // TTL), so a warm request calls the authorizer not at all: its calls are those on API key items (`K#`). A cold one
  // reads the key item (and writes last_used_at at most hourly).
  authorizer_warm: await count(() => http('GET', '/models/account/records/warm', undefined, [200]), ({ keyItem }) => keyItem),
};
// That request made the handler's one read and nothing else: an authorizer that read some other item would show here.
if (calls.length !== 1 || calls[0]!.command !== 'GetItemCommand' || calls[0]!.keyItem) {
  throw new Error(`A warm GET made ${JSON.stringify(calls)}, not only the handler's GetItem`);
}
await stack.stop();
endPhase('calls per operation');

// --- cold init: each function's bundle against the SDK-only bundle, in pairs ----------------------------------------
function coldInitOnce(file: string): number {
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`],
    { encoding: 'utf8', env: { ...process.env, TABLE_NAME: 't', IDEMPOTENCY_TABLE_NAME: 'i', SMOKE_BASE_URL: 'http://x', SMOKE_SECRET_ARN: 'arn:x', AWS_REGION: 'eu-west-1' } },
  );
  const ms = Number(result.stdout.trim());
  if (result.status !== 0 || !Number.isFinite(ms)) throw new Error(`Importing ${file} failed: ${result.stderr}`);
  return ms;
}
const bundlesKb: Record<string, number> = {};
const coldInit: Record<string, number> = {};
const coldInitRatio: Record<string, number> = {};
/** Unrounded, for the target check. */
const exactColdInitRatio: Record<string, number> = {};
/** The SDK-only bundle's median over the pairs of each bundle: what that bundle's own runs were compared with. */
const pairedBaselineInit: Record<string, number> = {};
const baselineRuns: number[] = [];
for (const [name, file] of [...functionFiles, ...componentFiles]) {
  bundlesKb[name] = round(statSync(file).size / 1024, 1);
  const runs: number[] = [];
  const bases: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < coldPairsOf(name); i += 1) {
    const base = coldInitOnce(baselineFile);
    const own = coldInitOnce(file);
    bases.push(base);
    runs.push(own);
    ratios.push(own / base);
  }
  baselineRuns.push(...bases);
  coldInit[name] = round(median(runs), 1);
  pairedBaselineInit[name] = round(median(bases), 1);
  exactColdInitRatio[name] = median(ratios);
  coldInitRatio[name] = round(exactColdInitRatio[name], 3);
}
const baselineInit = median(baselineRuns);
endPhase('cold init');
const slowestColdInit = [...functionFiles.keys()].map((name) => [name, coldInitRatio[name]!] as const).reduce((a, b) => (b[1] > a[1] ? b : a));
bundlesKb['sdk-only baseline'] = round(statSync(baselineFile).size / 1024, 1);
const upsertInit = coldInit[coldInitTarget]!;

// --- report --------------------------------------------------------------------------------------------------------
const rawP50 = median(rawLatency);
// The targets are checked on these unrounded ratios: a rounded 1.15 may be 1.154. Reported to three decimals.
const exactRatios = {
  // The median of the worker processes' ratios, each a side-by-side comparison within one process.
  upsert_in_process_vs_raw_p50: median(inProcessWorkerRatios),
  http_throughput_vs_raw: httpThroughput / rawThroughput,
  // The median of the rounds' ratios: each round's batch and raw writes ran back to back.
  batch_throughput_vs_raw: median(batchRates.map((rate, i) => rate / rawParallelRates[i]!)),
  cold_init_vs_sdk_baseline: exactColdInitRatio[coldInitTarget]!,
};
const results = {
  measured_at: new Date().toISOString(),
  node: process.version,
  samples,
  in_process_workers: inProcessWorkers,
  load_seconds: loadSeconds,
  // Up to the report; writing it and the chart takes milliseconds.
  duration_s: round((performance.now() - benchStarted) / 1000, 1),
  raw_update_item: { p50_ms: round(rawP50), p99_ms: round(percentile(rawLatency, 99)), throughput_c32_per_s: round(rawThroughput, 0), throughput_c32_halves_per_s: [round(rawThroughputBefore, 0), round(rawThroughputAfter, 0)] },
  raw_update_item_upsert_request: { p50_ms: round(median(rawShapeLatency)), p99_ms: round(percentile(rawShapeLatency, 99)) },
  upsert_in_process: { p50_ms: round(median(inProcessLatency)), p99_ms: round(percentile(inProcessLatency, 99)) },
  http_upsert_c32: { throughput_per_s: round(httpThroughput, 0), p50_ms: cannon.latency.p50, p99_ms: cannon.latency.p99, non_2xx: httpNon2xx },
  batch_1000: {
    status: batchStatus,
    rounds: batchRounds,
    records_per_s: round(median(batchRates), 0),
    raw_parallel_per_s: round(median(rawParallelRates), 0),
    concurrency: batchLimits.concurrency,
    round_ratios: batchRates.map((rate, i) => round(rate / rawParallelRates[i]!)),
  },
  ratios: Object.fromEntries(Object.entries(exactRatios).map(([name, ratio]) => [name, round(ratio, 3)])) as typeof exactRatios,
  diagnostics: {
    // DynamoDB Local's raw throughput at c=32 in each slice of the warm-up (5 s; 2 s with --quick), until it settled.
    warm_up_c32_per_s: warmUpRates,
    // Each worker process's in-process ratio, in the order they ran (the target uses their median).
    upsert_in_process_vs_raw_p50_by_worker: inProcessWorkerRatios.map((ratio) => round(ratio, 3)),
    // How the in-process difference splits: DynamoDB's extra work for the upsert's request, then our code (medians of
    // the workers' ratios).
    upsert_request_raw_vs_raw_p50: round(median(workerRatios('rawUpsertRequest', 'raw')), 3),
    upsert_in_process_vs_upsert_request_raw_p50: round(median(workerRatios('inProcess', 'rawUpsertRequest')), 3),
    // Median ms per call in the HTTP exchange with DynamoDB Local, and in Node outside it (SDK, our code, libraries).
    in_process_split_ms: Object.fromEntries(
      (Object.entries(inProcessRun) as [string, Timings][]).map(([path, timings]) => {
        const exchange = median(timings.exchange);
        return [path, { http_exchange: round(exchange, 3), node: round(median(timings.total.map((t, i) => t - timings.exchange[i]!)), 3) }];
      }),
    ),
    phase_seconds: phaseSeconds,
    cold_init_pairs: { [coldInitTarget]: targetColdPairs, others: otherColdPairs },
    cold_init_slowest_function: { name: slowestColdInit[0], ratio: slowestColdInit[1] },
    // By function, and for the SDK-only bundle plus one library (what middy and Powertools cost at cold start).
    cold_init_vs_sdk_baseline_by_bundle: coldInitRatio,
  },
  ddb_calls: ddbCalls,
  bundles_kb: bundlesKb,
  cold_init_ms: { ...coldInit, sdk_only_baseline: round(baselineInit, 1) },
  cold_init_paired_sdk_only_ms: pairedBaselineInit,
};
const targets: [string, boolean, string][] = [
  ['in-process upsert p50 <= 1.15x raw', exactRatios.upsert_in_process_vs_raw_p50 <= 1.15, `${results.ratios.upsert_in_process_vs_raw_p50}x`],
  ['HTTP throughput >= 0.70x raw', exactRatios.http_throughput_vs_raw >= 0.7, `${results.ratios.http_throughput_vs_raw}x`],
  ['batch throughput >= 0.80x raw', exactRatios.batch_throughput_vs_raw >= 0.8, `${results.ratios.batch_throughput_vs_raw}x`],
  [`cold init <= 1.3x SDK-only bundle (${coldInitTarget})`, exactRatios.cold_init_vs_sdk_baseline <= 1.3, `${results.ratios.cold_init_vs_sdk_baseline}x`],
  ['account upsert: 1 write, 0 reads', ddbCalls.upsert_account.writes === 1 && ddbCalls.upsert_account.reads === 0, JSON.stringify(ddbCalls.upsert_account)],
  ['customer upsert with account: 1 write, 1 read', ddbCalls.upsert_customer_with_account.writes === 1 && ddbCalls.upsert_customer_with_account.reads === 1, JSON.stringify(ddbCalls.upsert_customer_with_account)],
  ['get: 1 read', ddbCalls.get_account.reads === 1 && ddbCalls.get_account.writes === 0, JSON.stringify(ddbCalls.get_account)],
  ['delete: 1 write', ddbCalls.delete_account.writes === 1 && ddbCalls.delete_account.reads === 0, JSON.stringify(ddbCalls.delete_account)],
  ['warm authorizer: 0 calls', ddbCalls.authorizer_warm.reads === 0 && ddbCalls.authorizer_warm.writes === 0, JSON.stringify(ddbCalls.authorizer_warm)],
];

mkdirSync(join(repositoryRoot, 'bench'), { recursive: true });
writeFileSync(join(repositoryRoot, 'bench', 'results.json'), `${JSON.stringify({ ...results, targets: Object.fromEntries(targets.map(([n, ok, v]) => [n, { met: ok, value: v }])) }, null, 2)}\n`);

// A small SVG bar chart of the latency percentiles: raw, in-process, HTTP.
const bars = [
  ['raw UpdateItem', results.raw_update_item.p50_ms, results.raw_update_item.p99_ms],
  ['upsert in-process', results.upsert_in_process.p50_ms, results.upsert_in_process.p99_ms],
  ['HTTP upsert (c=32)', results.http_upsert_c32.p50_ms, results.http_upsert_c32.p99_ms],
] as const;
const max = Math.max(...bars.map(([, , p99]) => p99));
const scale = (v: number) => (v / max) * 420;
const svgRows = bars
  .map(([label, p50, p99], i) => {
    const y = 40 + i * 70;
    return `<text x="10" y="${y + 14}" font-size="13">${label}</text>
<rect x="170" y="${y}" width="${scale(p50).toFixed(1)}" height="18" fill="#4a7bd0"/><text x="${(175 + scale(p50)).toFixed(1)}" y="${y + 14}" font-size="12">p50 ${p50} ms</text>
<rect x="170" y="${y + 24}" width="${scale(p99).toFixed(1)}" height="18" fill="#d07b4a"/><text x="${(175 + scale(p99)).toFixed(1)}" y="${y + 38}" font-size="12">p99 ${p99} ms</text>`;
  })
  .join('\n');
writeFileSync(
  join(repositoryRoot, 'docs', 'bench-latency.svg'),
  `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="260" font-family="sans-serif">
<text x="10" y="20" font-size="15" font-weight="bold">Upsert latency on DynamoDB Local (${results.measured_at.slice(0, 10)}, npm run bench)</text>
${svgRows}
</svg>
`,
);

console.log('\nGather benchmark (DynamoDB Local, one run; ratios are what count)\n');
console.log(`warm-up (raw, c=32, ${warmUpSliceSeconds} s slices until settled): ${warmUpRates.join(', ')}/s`);
console.log(`raw UpdateItem           p50 ${results.raw_update_item.p50_ms} ms   p99 ${results.raw_update_item.p99_ms} ms   ${results.raw_update_item.throughput_c32_per_s}/s at c=32`);
console.log(`raw, upsert's request    p50 ${results.raw_update_item_upsert_request.p50_ms} ms   p99 ${results.raw_update_item_upsert_request.p99_ms} ms   (condition + ALL_NEW; not a target)`);
console.log(`upsert in-process        p50 ${results.upsert_in_process.p50_ms} ms   p99 ${results.upsert_in_process.p99_ms} ms`);
console.log(`  vs raw, p50, by worker process (${inProcessWorkers}, ${samples} calls of each path in each; the target uses the median): ${results.diagnostics.upsert_in_process_vs_raw_p50_by_worker.join(', ')}`);
console.log(`  median ms in the HTTP exchange / in Node: ${Object.entries(results.diagnostics.in_process_split_ms).map(([path, split]) => `${path} ${split.http_exchange} / ${split.node}`).join(', ')}`);
console.log(`HTTP upsert (c=32)       p50 ${results.http_upsert_c32.p50_ms} ms   p99 ${results.http_upsert_c32.p99_ms} ms   ${results.http_upsert_c32.throughput_per_s}/s   non-2xx ${httpNon2xx}`);
console.log(`batch of 1,000           ${results.batch_1000.records_per_s} records/s   raw parallel (c=${batchLimits.concurrency}) ${results.batch_1000.raw_parallel_per_s}/s   (median of ${batchRounds} rounds; ratios ${results.batch_1000.round_ratios.join(', ')})`);
console.log(`cold init (${targetColdPairs} pairs)      ${coldInitTarget} ${upsertInit} ms   SDK-only bundle in the same pairs ${pairedBaselineInit[coldInitTarget]} ms   (median of pair ratios ${results.ratios.cold_init_vs_sdk_baseline})`);
console.log('\n| target | value | met |\n| --- | --- | --- |');
for (const [name, ok, value] of targets) console.log(`| ${name} | ${value} | ${ok ? 'yes' : 'NO'} |`);
// Not a target of its own: the record functions' bundles differ by a few KB, so their spread is mostly this machine's noise.
console.log(`\nslowest cold init: ${slowestColdInit[0]} ${slowestColdInit[1]}x the SDK-only bundle${slowestColdInit[1] > 1.3 ? ' (over 1.3x)' : ''}`);
console.log('\nbundles (KB):', JSON.stringify(bundlesKb));
console.log('cold init vs SDK-only, by function and library:', JSON.stringify(coldInitRatio));
console.log(`took ${results.duration_s} s:`, Object.entries(phaseSeconds).map(([phase, seconds]) => `${phase} ${seconds} s`).join(', '));
console.log('wrote bench/results.json and docs/bench-latency.svg');
