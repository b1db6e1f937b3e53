/**
 * One local stack per data directory. Two `npm start`s on one DATA_DIR (on two ports) ran two DynamoDB Locals on the
 * same files, and the second overwrote the first's dev.json, through which the CLIs find a stack, then deleted it when
 * it stopped. `$DATA_DIR/stack.lock` holds the pid of the stack that owns the directory.
 *
 * - The lock appears whole or not at all: it is written to a file of its own and hard-linked into place, which fails
 *   if a lock is there, so two starts at once never both win, and a reader never sees it half written.
 * - A lock whose process is gone (a stack killed with SIGKILL) is taken over: renamed away first, which only one of two
 *   claimers can do, then claimed as a free directory. A lock naming this very process, which does not hold the
 *   directory, is a pid reused after a restart (a container's stack is often pid 1 every time), not a live owner.
 * - It is released when the stack stops, and on any exit of the process (`process.exit` while starting included).
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUseError extends Error {}

/** The directories this process holds, by their lock file. */
const held = new Set<string>();

function running(pid: number): boolean {
  try {
    // Signal 0 checks that the process exists without touching it; EPERM means it exists under another user.
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // After a crash or a reboot the pid may have gone to another program: where /proc tells (Linux), only a Node process
  // can be a stack.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((part) => /(^|\/)node(js)?(\.exe)?$/.test(part));
  } catch {
    return true;
  }
}

/** Places the lock if there is none; false when there is one. */
function place(lock: string, mine: string): boolean {
  const draft = `${lock}.${mine}.${Date.now()}`;
  writeFileSync(draft, mine);
  try {
    linkSync(draft, lock);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
}

/** Claims the directory for this process, or throws {@link DataDirInUseError}; returns the release. */
export function claimDataDir(dataDir: string): () => void {
  const lock = join(dataDir, 'stack.lock');
  const mine = String(process.pid);
  const inUse = (owner: string) =>
    new DataDirInUseError(
      `${dataDir} is in use by another "npm start" (pid ${owner}): stop it, or give this one its own data directory: DATA_DIR=.data-2 PORT=3001 npm start` +
        ` (if no stack runs there any more, delete ${lock})`,
    );
  if (held.has(lock)) throw inUse(mine);
  while (!place(lock, mine)) {
    let owner: string;
    try {
      owner = readFileSync(lock, 'utf8').trim();
    } catch {
      continue; // released in between: try again
    }
    const pid = Number(owner);
    const stale = Number.isInteger(pid) && pid > 0 && (pid === process.pid || !running(pid));
    if (!stale) throw inUse(owner || '?');
    const moved = `${lock}.stale.${mine}.${Date.now()}`;
    try {
      renameSync(lock, moved);
    } catch {
      continue; // another claimer moved it first: the next round sees what is there now
    }
    // What was moved must be the stale lock just read, not one a quicker claimer placed in between: that one goes back.
    const movedOwner = readFileSync(moved, 'utf8').trim();
    if (movedOwner !== owner) {
      try {
        linkSync(moved, lock);
      } catch {
        // A third claimer's lock is there now; it is the owner.
      }
      rmSync(moved, { force: true });
      throw inUse(movedOwner);
    }
    rmSync(moved, { force: true });
  }
  held.add(lock);
  const release = () => {
    if (!held.delete(lock)) return;
    process.off('exit', release);
    try {
      if (readFileSync(lock, 'utf8') === mine) rmSync(lock, { force: true });
    } catch {
      // Already gone.
    }
  };
  process.once('exit', release);
  return release;
}
