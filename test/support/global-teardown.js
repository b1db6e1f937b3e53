import { rmSync } from 'node:fs';

/** Stops the local stack (it stops DynamoDB Local on SIGTERM) and removes its data. */
export default async function globalTeardown() {
  const stack = globalThis.__gatherStack;
  if (!stack) return;
  const { child, dataDir } = stack;
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
}
