/**
 * `npm run soak [-- --duration 60 --connections 16]`: a bounded soak of the local stack. It starts its own stack
 * (DynamoDB Local in memory, the gateway in this process), drives mixed traffic through HTTP with autocannon for the
 * set time (upserts by JSON and form, reads, lists, batches, deletes, bad requests), and reports answers by status,
 * p50/p99 latency and the growth of this process's memory (gateway and handlers) between a warm-up and the end.
 * It sends traffic only to 127.0.0.1 and stops by itself. Exits 1 when its stack did not start or the API answered a
 * 5xx other than 503 (or a connection failed), 2 when the command line is wrong.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Command } from 'commander';
import { refuseRepeatedOptions, usageErrorsExitWith, wholeNumber } from '../cli-options.js';
import { startLocalStack } from './local-stack.js';

const program = refuseRepeatedOptions(
  usageErrorsExitWith(
    2,
    new Command('soak')
      .option('--duration <seconds>', 'how long to drive traffic, 1 to 3600', wholeNumber(1, 3600), 60)
      .option('--connections <n>', 'concurrent connections, 1 to 1000', wholeNumber(1, 1000), 16),
  ),
).parse();
const { duration, connections } = program.opts<{ duration: number; connections: number }>();

const gc = (globalThis as { gc?: () => void }).gc;
function memoryMb(): { heap: number; rss: number } {
  gc?.();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed / 1024 / 1024, rss: usage.rss / 1024 / 1024 };
}

// Its own directory (the dev key, the lock), removed when the soak ends, Ctrl-C included, also while it starts.
const dataDir = mkdtempSync(join(tmpdir(), 'gather-soak-'));
let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
const cleanUp = () => (stack?.stop() ?? Promise.resolve()).finally(() => rmSync(dataDir, { recursive: true, force: true }));
// Stopped once: a terminal's Ctrl-C reaches npm and this process both, and npm passes its own on, and a second signal
// must not end the process before its clean-up has removed the stack and its directory.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${signal}: stopping the soak`);
    void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}
try {
  stack = await startLocalStack({ port: 0, dataDir, inMemory: true, log: () => undefined });
} catch (error) {
  // A stack that could not start leaves nothing running, but its directory must go too.
  rmSync(dataDir, { recursive: true, force: true });
  console.error(`soak: the local stack did not start: ${(error as Error).message}`);
  process.exit(1);
}
const { baseUrl, token } = stack.info;
const auth = { Authorization: `Token ${token}` };
const json = { ...auth, 'Content-Type': 'application/json' };
const form = { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' };
const ids = Array.from({ length: 500 }, (_, i) => `soak-${i}`);
const pick = () => ids[Math.floor(Math.random() * ids.length)]!;

// Each request template is picked by weight; bodies and paths are rebuilt per request.
const mix: { weight: number; request: () => { method: 'GET' | 'POST' | 'DELETE'; path: string; headers: Record<string, string>; body?: string } }[] = [
  { weight: 30, request: () => ({ method: 'POST', path: '/models/account/records', headers: json, body: JSON.stringify({ name: pick(), n: Math.random(), tags: ['a', 'b'] }) }) },
  { weight: 10, request: () => ({ method: 'POST', path: '/models/customer/records', headers: form, body: `email=${pick()}%40soak.io&account=${pick()}&title=t${Math.floor(Math.random() * 10)}` }) },
  { weight: 30, request: () => ({ method: 'GET', path: `/models/account/records/${pick()}`, headers: auth }) },
  { weight: 5, request: () => ({ method: 'GET', path: '/models/account/records?limit=50', headers: auth }) },
  { weight: 5, request: () => ({ method: 'POST', path: '/models/account/batch', headers: json, body: JSON.stringify({ records: Array.from({ length: 20 }, () => ({ name: pick(), b: 1 })) }) }) },
  { weight: 10, request: () => ({ method: 'DELETE', path: `/models/account/records/${pick()}`, headers: auth }) },
  { weight: 5, request: () => ({ method: 'POST', path: '/models/account/records', headers: json, body: '{"name": broken' }) },
  { weight: 5, request: () => ({ method: 'POST', path: '/models/customer/records', headers: json, body: JSON.stringify({ email: 'not-an-email' }) }) },
];
const totalWeight = mix.reduce((sum, m) => sum + m.weight, 0);
function nextRequest() {
  let roll = Math.random() * totalWeight;
  for (const entry of mix) {
    roll -= entry.weight;
    if (roll <= 0) return entry.request();
  }
  return mix[0]!.request();
}

async function drive(seconds: number) {
  return autocannon({
    url: baseUrl,
    connections,
    duration: seconds,
    requests: [{ setupRequest: (request) => ({ ...request, ...nextRequest() }) }],
  });
}

console.log(`Soak: ${duration} s of mixed traffic, ${connections} connections, against ${baseUrl}`);
await drive(Math.min(5, duration)); // warm-up: JIT, caches, connection pools
const before = memoryMb();
const result = await drive(duration);
const after = memoryMb();
await cleanUp();

const byStatus: Record<string, number> = {};
for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) byStatus[status] = stats?.count ?? 0;
const fiveHundreds = Object.entries(byStatus).filter(([status]) => Number(status) >= 500 && status !== '503').reduce((sum, [, n]) => sum + n, 0);
console.log(
  JSON.stringify(
    {
      duration_s: duration,
      connections,
      requests: result.requests.total,
      requests_per_second: Math.round(result.requests.average),
      by_status: byStatus,
      errors_not_http: result.errors,
      timeouts: result.timeouts,
      latency_ms: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      memory_mb: {
        heap_before: Number(before.heap.toFixed(1)),
        heap_after: Number(after.heap.toFixed(1)),
        heap_growth: Number((after.heap - before.heap).toFixed(1)),
        rss_before: Number(before.rss.toFixed(1)),
        rss_after: Number(after.rss.toFixed(1)),
      },
      gc_forced: gc !== undefined,
    },
    null,
    2,
  ),
);
if (fiveHundreds > 0 || result.errors > 0) {
  console.error(`FAILED: ${fiveHundreds} answers 5xx other than 503, ${result.errors} connection errors`);
  process.exitCode = 1;
}
