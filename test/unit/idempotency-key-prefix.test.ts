/**
 * Idempotency keys belong to the workspace on every route (docs/decisions.md): their records' prefix is the same in
 * every function. Powertools' default prefix is the function's name, which on a stage gave each function its own keys,
 * while the local gateway (one process, no function name) shared them, so the integration tests could not see the
 * difference. Here the module is loaded as two functions of a stage would load it.
 */
import { spawnSync } from 'node:child_process';

function prefixIn(functionName: string): string {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./lib/http/idempotency.ts').then((m) => process.stdout.write(m.idempotencyKeyPrefix))"],
    { encoding: 'utf8', env: { ...process.env, AWS_LAMBDA_FUNCTION_NAME: functionName } },
  );
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout;
}

describe('the Idempotency-Key record prefix', () => {
  it('is the same in every function of a stage, and names no function', () => {
    const upsert = prefixIn('gather-prod-UpsertRecord1A2B3C');
    const remove = prefixIn('gather-prod-DeleteRecord4D5E6F');
    expect(upsert).toBe(remove);
    expect(upsert).not.toMatch(/Record/);
  });
});
