/**
 * A lock file that holds the pid of the process that owns something (a local stack's data directory, an import's
 * state file), so that two processes never work on it at once.
 *
 * - The lock appears whole or not at all: it is written to a file of its own and hard-linked into place, which fails
 *   if a lock is there, so two claimers at once never both win, and a reader never sees it half written.
 * - A lock whose process is gone (killed with SIGKILL) is taken over: renamed away first, which only one of two
 *   claimers can do, then claimed as a free one. A lock naming this very process, which does not hold it, is a pid
 *   reused after a restart (a container's process is often pid 1 every time), not a live owner.
 * - It is released by the function returned, and on any exit of the process (`process.exit` included).
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/** The locks this process holds. */
const held = new Set<string>();

function running(pid: number): boolean {
  try {
    // Signal 0 checks that the process exists without touching it; EPERM means it exists under another user.
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // After a crash or a reboot the pid may have gone to another program: where /proc tells (Linux), only a Node process
  // can be an owner.
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

/**
 * Claims `lock` for this process, or throws `inUse(owner pid)` when a live process holds it. Returns the release.
 */
export function claimPidLock(lock: string, inUse: (owner: string) => Error): () => void {
  const mine = String(process.pid);
  if (held.has(lock)) throw inUse(mine);
  while (!place(lock, mine)) {
    let owner: string;
    try {
      owner = readFileSync(lock, 'utf8').trim();
    } catch (error) {
      // Released in between: try again. Anything else there (a directory of that name) is no lock this can take.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw inUse('?');
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
