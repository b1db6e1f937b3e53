/**
 * One local stack per data directory. Two `npm start`s on one DATA_DIR (on two ports) ran two DynamoDB Locals on the
 * same files, and the second overwrote the first's dev.json, through which the CLIs find a stack, then deleted it when
 * it stopped. `$DATA_DIR/stack.lock` holds the pid of the stack that owns the directory; a lock whose process is gone
 * (a stack killed with SIGKILL) is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUseError extends Error {}

function running(pid: number): boolean {
  try {
    // Signal 0 checks that the process exists without touching it; EPERM means it exists under another user.
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims the directory for this process, or throws {@link DataDirInUseError}; returns the release. */
export function claimDataDir(dataDir: string): () => void {
  const lock = join(dataDir, 'stack.lock');
  const mine = String(process.pid);
  try {
    writeFileSync(lock, mine, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const owner = Number(readFileSync(lock, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && (owner === process.pid || running(owner))) {
      throw new DataDirInUseError(
        `${dataDir} is in use by another "npm start" (pid ${owner}): stop it, or give this one its own data directory: DATA_DIR=.data-2 PORT=3001 npm start`,
      );
    }
    writeFileSync(lock, mine);
  }
  return () => {
    try {
      if (readFileSync(lock, 'utf8') === mine) rmSync(lock, { force: true });
    } catch {
      // Already gone.
    }
  };
}
