/** One local stack per data directory (lib/local/data-dir-lock.ts): a live owner refuses, a dead one's lock is taken. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { claimDataDir, DataDirInUseError } from '../../lib/local/data-dir-lock.js';

/** Waits until the process runs its own program (a spawned child is a copy of this one until it execs). */
async function execed(pid: number, word: string): Promise<void> {
  // Without /proc (not Linux) there is nothing to wait for: the lock takes any live pid for an owner there.
  if (!existsSync('/proc/self/cmdline')) return;
  for (let i = 0; i < 1000; i += 1) {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(word)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pid ${pid} did not run ${word} within 10 s`);
}

describe('claimDataDir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gather-lock-'));
  const lock = join(dir, 'stack.lock');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('claims a free directory, refuses a second claim while held, and frees it on release', () => {
    const release = claimDataDir(dir);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    expect(() => claimDataDir(dir)).toThrow(DataDirInUseError);
    release();
    expect(existsSync(lock)).toBe(false);
    claimDataDir(dir)();
  });

  it("refuses a directory a running process holds, and takes over the lock of one that is gone (a stack killed with SIGKILL)", async () => {
    // A running Node process, as a stack is.
    const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)']);
    await execed(owner.pid!, 'setTimeout');
    writeFileSync(lock, String(owner.pid));
    try {
      expect(() => claimDataDir(dir)).toThrow(new RegExp(`in use by another "npm start" \\(pid ${owner.pid}\\)`));
    } finally {
      owner.kill();
    }
    // A process that has ended: its pid is free (reused only after the kernel wraps around).
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lock, ended.stdout);
    const release = claimDataDir(dir);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    release();
    // This process's own pid in a lock it does not hold: a stack killed before, whose pid came back after a restart.
    writeFileSync(lock, String(process.pid));
    const again = claimDataDir(dir);
    expect(() => claimDataDir(dir)).toThrow(DataDirInUseError);
    again();
    expect(existsSync(lock)).toBe(false);
  });

  // Where /proc tells what a pid runs (Linux, as CI is); elsewhere a live pid is taken for an owner.
  const withProc = existsSync('/proc/self/cmdline') ? it : it.skip;
  withProc('takes over a lock whose pid went to a program that is no stack (a pid reused after a crash or reboot)', async () => {
    const other = spawn('sleep', ['30']);
    try {
      await execed(other.pid!, 'sleep');
      writeFileSync(lock, String(other.pid));
      const release = claimDataDir(dir);
      expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
      release();
    } finally {
      other.kill();
    }
  });

  it('refuses, rather than waits forever, when its lock path is taken by something that is no lock (a directory)', () => {
    mkdirSync(lock);
    try {
      // Under a watchdog that stops the claim after 10 s: it once looped for ever, so the test ends either way.
      expect(() => vm.runInNewContext('claim()', { claim: () => claimDataDir(dir) }, { timeout: 10_000 })).toThrow(DataDirInUseError);
    } finally {
      rmSync(lock, { recursive: true });
    }
  });

  it.each([
    ['process.exit', 'process.exit(3);', 3],
    ['the end of its work', '', 0],
    ['an uncaught exception', "setImmediate(() => { throw new Error('boom'); });", 1],
  ])('releases the directory when the process exits, however it exits: %s', (_, exit, status) => {
    const exiting = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', `import('./lib/local/data-dir-lock.ts').then(({ claimDataDir }) => { claimDataDir(${JSON.stringify(dir)}); ${exit} })`],
      { encoding: 'utf8' },
    );
    expect(exiting.status).toBe(status);
    expect(exiting.stderr).toMatch(status === 1 ? /boom/ : /^$/);
    expect(existsSync(lock)).toBe(false);
  });
});
