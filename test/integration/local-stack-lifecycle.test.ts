/**
 * `npm start` as a user meets it: data and the dev key survive a restart, Ctrl-C (SIGINT) stops everything with Java,
 * and a second start on a busy port, or on a data directory in use, says so at once. Each start here is its own
 * process with its own data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDynamoDbLocal, waitForDynamoDbLocal } from '../../lib/local/dynamodb-local.js';
import type { DevStackInfo } from '../../lib/local/local-stack.js';
import { runScript } from '../support/script-process.js';

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** The exit code once the process has ended and its output is all read ('close', not 'exit', which can come first). */
  readonly closed: Promise<number | null>;
}

function start(dataDir: string, port = 0, env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/local/start.ts'], {
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return { child, output: () => output, closed };
}

/**
 * Ready as a user sees it: dev.json is there (scripts wait for it) and the banner with the key has reached the terminal.
 * start.ts prints the banner just after dev.json is written, and a pipe delivers it later still, so both are awaited.
 */
async function ready(dataDir: string, started: Started): Promise<DevStackInfo> {
  const file = join(dataDir, 'dev.json');
  const deadline = Date.now() + 60_000;
  while (!existsSync(file) || !started.output().includes('Press Ctrl-C to stop.')) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited: ${started.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start was not ready in 60 s: ${started.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return JSON.parse(readFileSync(file, 'utf8')) as DevStackInfo;
}

function accepts(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gather-lifecycle-'));
  const running: ChildProcess[] = [];
  /** Started in a process group of their own: stopped as a group. */
  const groups: ChildProcess[] = [];
  afterAll(() => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
    for (const child of groups) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // The group has ended.
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps records and the dev key across a restart, stops Java on Ctrl-C, and refuses a busy port', async () => {
    const first = start(dataDir);
    running.push(first.child);
    const info = await ready(dataDir, first);
    expect(first.output()).toContain(info.token);
    expect(first.output()).toContain(`curl ${info.baseUrl}/models/account/records`);
    const headers = { Authorization: `Token ${info.token}`, 'Content-Type': 'application/x-www-form-urlencoded' };
    const created = await fetch(`${info.baseUrl}/models/account/records`, { method: 'POST', headers, body: 'name=Survivor&size=1' });
    expect(created.status).toBe(201);

    // A second start on the same port (the same checkout, so the same data directory) fails at once, with a clear
    // message, before starting Java, and leaves the running stack's dev.json, through which the CLIs find it, alone.
    const devJsonBefore = readFileSync(join(dataDir, 'dev.json'), 'utf8');
    const second = start(dataDir, Number(new URL(info.baseUrl).port));
    running.push(second.child);
    expect(await second.closed).toBe(1);
    expect(second.output()).toMatch(/already in use.*another "npm start"/s);
    expect(readFileSync(join(dataDir, 'dev.json'), 'utf8')).toBe(devJsonBefore);
    // So does one on another port with the same data directory, which ran a second DynamoDB Local on the same files.
    const elsewhere = start(dataDir);
    running.push(elsewhere.child);
    expect(await elsewhere.closed).toBe(1);
    expect(elsewhere.output()).toMatch(/is in use by another "npm start" \(pid \d+\).*DATA_DIR=/s);
    expect(readFileSync(join(dataDir, 'dev.json'), 'utf8')).toBe(devJsonBefore);

    first.child.kill('SIGINT');
    expect(await first.closed).toBe(0);
    expect(await accepts(info.dynamodbEndpoint)).toBe(false);
    expect(existsSync(join(dataDir, 'dev.json'))).toBe(false);
    // The data directory is free again: its lock went with the stack.
    expect(existsSync(join(dataDir, 'stack.lock'))).toBe(false);

    const third = start(dataDir);
    running.push(third.child);
    const again = await ready(dataDir, third);
    expect(again.token).toBe(info.token);
    const read = await fetch(`${again.baseUrl}/models/account/records/Survivor`, { headers: { Authorization: `Token ${again.token}` } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { fields: unknown }).fields).toEqual({ name: 'Survivor', size: '1' });

    // DynamoDB Local dies under a running stack: the terminal hears of it at once, and requests answer 503.
    process.kill(again.dynamodbPid!, 'SIGKILL');
    const heard = Date.now() + 30_000;
    while (!third.output().includes('stopped unexpectedly') && Date.now() < heard) await new Promise((r) => setTimeout(r, 100));
    expect(third.output()).toMatch(new RegExp(`DynamoDB Local \\(pid ${again.dynamodbPid}\\) stopped unexpectedly \\(SIGKILL\\): every request answers 503`));
    const down = await fetch(`${again.baseUrl}/models/account/records/Survivor`, { headers: { Authorization: `Token ${again.token}` } });
    expect(down.status).toBe(503);
    third.child.kill('SIGTERM');
    expect(await third.closed).toBe(0);
  }, 180_000);

  it('refuses a PORT or AUTHORIZER_CACHE_TTL_SECONDS that is not one in a line of its own, before starting anything', async () => {
    for (const env of [{ PORT: 'abc' }, { PORT: '70000' }, { PORT: '-1' }, { PORT: '0x10' }, { AUTHORIZER_CACHE_TTL_SECONDS: 'soon' }, { AUTHORIZER_CACHE_TTL_SECONDS: '86400' }, { AUTHORIZER_CACHE_TTL_SECONDS: '1e1' }]) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'lib/local/start.ts'], { env: { ...process.env, DATA_DIR: join(dataDir, 'refused'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      running.push(child);
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const code = await new Promise((r) => child.once('close', r));
      expect([env, code]).toEqual([env, 1]);
      expect([env, output.trim().split('\n')]).toEqual([env, [expect.stringMatching(new RegExp(`^(Environment variable )?${Object.keys(env)[0]} must be`))]]);
      expect(existsSync(join(dataDir, 'refused', 'dev.json'))).toBe(false);
    }
  }, 60_000);

  it('stops everything when only npm is signalled (a supervisor, kill <pid>), and keeps serving when its output is closed', async () => {
    // Through npm, as a user or a supervisor runs it: SIGTERM goes to npm alone, which passes it to its one child.
    const own = join(dataDir, 'through-npm');
    // In a process group of its own, so that should the test fail first, afterAll can stop npm, Node and Java together.
    const child = spawn('npm', ['start'], { env: { ...process.env, PORT: '0', DATA_DIR: own }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    groups.push(child);
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const closed = new Promise<number | null>((r) => child.once('close', r));
    const info = await ready(own, { child, output: () => output, closed });
    // Its output closed (`npm start | head`): the next log line must not bring the stack down.
    child.stdout.destroy();
    child.stderr.destroy();
    for (let i = 0; i < 3; i += 1) {
      const answer = await fetch(`${info.baseUrl}/models/account/records/piped-${i}`, { headers: { Authorization: `Token ${info.token}` } });
      expect(answer.status).toBe(404);
    }
    child.kill('SIGTERM');
    await closed;
    expect(await accepts(info.dynamodbEndpoint)).toBe(false);
    expect(await accepts(info.baseUrl)).toBe(false);
    expect(existsSync(join(own, 'stack.lock'))).toBe(false);
  }, 120_000);

  it('says in one line, without a stack trace, what to mend when the data directory or its dev key cannot be used', async () => {
    const file = join(dataDir, 'a-file');
    writeFileSync(file, 'not a directory');
    const notADirectory = start(file);
    running.push(notADirectory.child);
    expect(await notADirectory.closed).toBe(1);
    expect(notADirectory.output().trim().split('\n')).toEqual([expect.stringMatching(/^Could not start the local stack: E[A-Z]+: .*a-file/)]);
    const own = join(dataDir, 'bad-key');
    mkdirSync(own);
    writeFileSync(join(own, 'dev-key.json'), '{not json');
    const badKey = start(own);
    running.push(badKey.child);
    expect(await badKey.closed).toBe(1);
    expect(badKey.output()).toMatch(/dev-key\.json is not a dev key file .*: delete it, and npm start makes a new key/);
    expect(badKey.output()).not.toMatch(/\n\s+at /);
  }, 120_000);

  it('says in one line that Java is missing, and stops as for Ctrl-C when its terminal closes (SIGHUP)', async () => {
    const noJava = join(dataDir, 'no-java-bin');
    mkdirSync(noJava);
    const refused = start(join(dataDir, 'no-java'), 0, { PATH: noJava });
    running.push(refused.child);
    expect(await refused.closed).toBe(1);
    expect(refused.output().trim().split('\n')).toEqual(['Java was not found on the PATH: DynamoDB Local needs a Java 17+ runtime (apt-get install default-jre-headless).']);
    const own = join(dataDir, 'hang-up');
    const started = start(own);
    running.push(started.child);
    const info = await ready(own, started);
    started.child.kill('SIGHUP');
    expect(await started.closed).toBe(0);
    expect([existsSync(join(own, 'dev.json')), existsSync(join(own, 'stack.lock'))]).toEqual([false, false]);
    expect(await accepts(info.dynamodbEndpoint)).toBe(false);
  }, 120_000);

  it('refuses a LOCAL_RATE_LIMIT that is not a limit (blanks included) at once, before starting anything', async () => {
    for (const value of [' ', 'abc', '5/0']) {
      const refused = start(join(dataDir, 'refused'), 0, { LOCAL_RATE_LIMIT: value });
      running.push(refused.child);
      expect([value, await refused.closed]).toEqual([value, 1]);
      expect(refused.output()).toContain('LOCAL_RATE_LIMIT must be');
      expect(existsSync(join(dataDir, 'refused', 'dev.json'))).toBe(false);
    }
  }, 60_000);
});

describe('npm run soak', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'gather-soak-test-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('refuses options out of range before starting anything', async () => {
    const run = await runScript('lib/local/soak.ts', ['--duration', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('must be a whole number from 1 to 3600');
  });

  it('refuses an option given twice, rather than soak for one of the two durations', async () => {
    const run = await runScript('lib/local/soak.ts', ['--duration', '1', '--connections', '2', '--duration=3']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/option '--duration' was given more than once/);
    expect(run.stdout).toBe('');
  });

  it('cleans up once when its signal comes twice, as a Ctrl-C under npm does, and leaves no directory behind', async () => {
    const ownTmp = join(scratch, 'tmp-twice');
    mkdirSync(ownTmp);
    let signalled = false;
    const run = await runScript('lib/local/soak.ts', ['--duration', '60', '--connections', '2'], {
      env: { TMPDIR: ownTmp },
      onStdout: (text, kill) => {
        if (signalled || !text.includes('Soak: ')) return;
        signalled = true;
        kill('SIGINT');
        setTimeout(() => kill('SIGINT'), 50);
      },
    });
    expect([run.code, run.stderr.match(/stopping the soak/g)?.length]).toEqual([130, 1]);
    expect(readdirSync(ownTmp).filter((name) => name.startsWith('gather-soak-'))).toEqual([]);
  }, 60_000);

  it('says in one line that its stack did not start, and leaves no temporary directory behind', async () => {
    // A java on PATH that fails at once, as a missing or broken Java runtime does.
    const fakeBin = join(scratch, 'bin');
    const ownTmp = join(scratch, 'tmp');
    mkdirSync(fakeBin);
    mkdirSync(ownTmp);
    writeFileSync(join(fakeBin, 'java'), '#!/bin/sh\necho "no java here" >&2\nexit 1\n', { mode: 0o755 });
    const run = await runScript('lib/local/soak.ts', ['--duration', '1'], { env: { PATH: `${fakeBin}:${process.env.PATH}`, TMPDIR: ownTmp } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^soak: the local stack did not start: /m);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(ownTmp).filter((name) => name.startsWith('gather-soak-'))).toEqual([]); // tsx keeps its cache there too
  }, 60_000);
});

describe('DynamoDB Local', () => {
  it('is never taken for the one a stack started when another program answers on its port', async () => {
    // Another DynamoDB Local (a second stack, a test run) that took the port between its choice and Java's bind: it
    // answers ListTables, and this stack would create and read its tables there.
    const other = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
        response.end('{"TableNames":[]}');
      });
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const { port } = other.address() as AddressInfo;
    try {
      await expect(startDynamoDbLocal({ port })).rejects.toThrow(`Port ${port} is answered by another DynamoDB Local, not by the one this stack started`);
    } finally {
      other.close();
    }
    // Its own, on a port of its choosing, is recognised as its own.
    const own = await startDynamoDbLocal();
    await own.stop();
  });

  it('says why it gave up waiting: no answer by its deadline, even from a port that accepts and never answers, or only errors', async () => {
    // What a Java does that cannot write its data directory (it accepts connections and answers nothing), and one whose
    // database file is unreadable or damaged (it answers 500 to everything).
    const silent = createServer(() => undefined);
    const failing = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(500, { 'Content-Type': 'application/x-amz-json-1.0' });
        response.end('{"__type":"com.amazonaws.dynamodb.v20120810#InternalFailure","message":"The request processing has failed"}');
      });
    });
    const running = { exitCode: null, signalCode: null, pid: process.pid } as unknown as ChildProcess;
    const where = { dataDir: '/srv/gather-data', spawnError: () => undefined };
    try {
      for (const [server, message] of [
        [silent, 'DynamoDB Local did not answer within 1 s: its files in /srv/gather-data may not be readable and writable by this user.'],
        [failing, /^DynamoDB Local answered every request with an error for 1 s \(InternalFailure: .*\): its files in \/srv\/gather-data may be unreadable by this user, or damaged\.$/],
      ] as const) {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const { port } = server.address() as AddressInfo;
        await expect(waitForDynamoDbLocal(`http://127.0.0.1:${port}`, port, running, 1_000, () => '', where)).rejects.toThrow(message);
      }
      // What Java said is quoted without its stack trace's frames, which would push the exception's message out.
      const java = 'Initializing DynamoDB Local\ncom.almworks.sqlite4java.SQLiteException: [14] unable to open database file\n\tat com.almworks.sqlite4java.SQLiteConnection.open(SQLiteConnection.java:1)\n\tat java.base/java.lang.Thread.run(Thread.java:840)\n\t... 3 more\n';
      const { port } = silent.address() as AddressInfo;
      await expect(waitForDynamoDbLocal(`http://127.0.0.1:${port}`, port, running, 1_000, () => java, where)).rejects.toThrow(
        /writable by this user\. Its last output: Initializing DynamoDB Local \| com\.almworks\.sqlite4java\.SQLiteException: \[14\] unable to open database file$/,
      );
      // Java not on the PATH: the spawn failed, and the process is gone.
      const gone = { exitCode: -2, signalCode: null, pid: undefined } as unknown as ChildProcess;
      const missing = Object.assign(new Error('spawn java ENOENT'), { code: 'ENOENT' });
      await expect(waitForDynamoDbLocal('http://127.0.0.1:1', 1, gone, 1_000, () => 'spawn java ENOENT', { dataDir: null, spawnError: () => missing })).rejects.toThrow(
        /^Java was not found on the PATH/,
      );
    } finally {
      silent.closeAllConnections();
      silent.close();
      failing.close();
    }
  });
});

