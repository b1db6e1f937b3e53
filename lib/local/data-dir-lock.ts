/**
 * One local stack per data directory. Two `npm start`s on one DATA_DIR (on two ports) ran two DynamoDB Locals on the
 * same files, and the second overwrote the first's dev.json, through which the CLIs find a stack, then deleted it when
 * it stopped. `$DATA_DIR/stack.lock` holds the pid of the stack that owns the directory (lib/pid-lock.ts).
 */
import { join } from 'node:path';
import { claimPidLock } from '../pid-lock.js';

export class DataDirInUseError extends Error {}

/** Claims the directory for this stack; the function returned releases it (so does any exit of the process). */
export function claimDataDir(dataDir: string): () => void {
  const lock = join(dataDir, 'stack.lock');
  return claimPidLock(
    lock,
    (owner) =>
      new DataDirInUseError(
        `${dataDir} is in use by another "npm start" (pid ${owner}): stop it, or give this one its own data directory: DATA_DIR=.data-2 PORT=3001 npm start` +
          ` (if no stack runs there any more, delete ${lock})`,
      ),
  );
}
