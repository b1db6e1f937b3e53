/**
 * Starts the local stack exactly as `npm start` does (same entry, same gateway, real DynamoDB Local), on a free port
 * with its data in a fresh directory, and tells the tests where it is through GATHER_DEV_JSON.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function globalSetup() {
  const dataDir = mkdtempSync(join(tmpdir(), 'gather-test-'));
  const devJson = join(dataDir, 'dev.json');
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/local/start.ts'], {
    // INFO logs: the no-key-in-logs suite reads every line the handlers write. A 120 s function timeout: on a loaded
    // 2-core CI machine a 1,000-item batch can outlast the 18.4 s of starting items that the stack's 28 s leave it (the
    // tests assert behaviour, not speed; test/unit/batch-deadline.test.ts and the fault suite cover what the deadline does).
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      AUTHORIZER_CACHE_TTL_SECONDS: '2',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      LOCAL_FUNCTION_TIMEOUT_SECONDS: '120',
      // The authorizer's last-use write gives up after half a second; suites assert that it was recorded, and a loaded
      // CI machine's DynamoDB Local can take longer than that to answer.
      LAST_USED_WRITE_BUDGET_MS: '10000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const logFile = join(dataDir, 'gateway.log');
  const { createWriteStream } = await import('node:fs');
  const log = createWriteStream(logFile);
  child.stdout.on('data', (chunk) => {
    log.write(chunk);
    output = (output + chunk).slice(-5000);
  });
  child.stderr.on('data', (chunk) => {
    log.write(chunk);
    output = (output + chunk).slice(-5000);
  });
  const deadline = Date.now() + 90_000;
  while (!existsSync(devJson)) {
    if (child.exitCode !== null) throw new Error(`The local stack exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The local stack did not become ready within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  JSON.parse(readFileSync(devJson, 'utf8'));
  process.env.GATHER_DEV_JSON = devJson;
  process.env.GATHER_GATEWAY_LOG = logFile;
  globalThis.__gatherStack = { child, dataDir };
}
