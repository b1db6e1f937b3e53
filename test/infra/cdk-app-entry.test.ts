/**
 * cdk.json's `app` (`node --import tsx infra/app.ts`) run as the CDK CLI runs it: it must write the stage's template,
 * also from a checkout whose path has a space and is reached through a symlink (a home directory with a space, macOS's
 * /tmp). Bundling is skipped (the stack test bundles for real); nothing here needs AWS credentials.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
/** The context the CDK CLI passes: cdk.json's. */
const cdkJson = JSON.parse(readFileSync(join(repositoryRoot, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
/** Removed after the tests (rmSync removes the symlink, not what it points at). */
const temporaryDirs: string[] = [];
const temporaryDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

function synthesizeFrom(checkout: string, context: Record<string, unknown> = {}): { status: number | null; stderr: string; template?: { Description?: string } } {
  const outdir = temporaryDir('gather-cdk-out-');
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(checkout, 'infra', 'app.ts')], {
    cwd: checkout,
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context }) },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const file = join(outdir, 'Gather-dev.template.json');
  return { status: run.status, stderr: run.stderr, ...(existsSync(file) ? { template: JSON.parse(readFileSync(file, 'utf8')) } : {}) };
}

describe("cdk.json's app", () => {
  it('synthesizes the stack when run directly', () => {
    const run = synthesizeFrom(repositoryRoot);
    // The error output rides along, so a failure says why.
    expect([run.status, run.template?.Description, run.status === 0 ? '' : run.stderr]).toEqual([0, 'Gather records API (dev)', '']);
  });

  it('says in one line, without a stack trace, which stage setting it cannot use', () => {
    const run = synthesizeFrom(repositoryRoot, { stages: { dev: { alarmEmial: 'ops@example.com' } } });
    expect([run.status, run.stderr.trim().split('\n')]).toEqual([1, [expect.stringMatching(/^error: stages\.dev\.alarmEmial is not a stage setting: the settings are /)]]);
    expect(run.template).toBeUndefined();
  });

  it('synthesizes it from a path with a space, through a symlink', () => {
    const parent = join(temporaryDir('gather-cdk-'), 'with space');
    mkdirSync(parent);
    const checkout = join(parent, 'checkout');
    symlinkSync(repositoryRoot, checkout, 'dir');
    const run = synthesizeFrom(checkout);
    // The error output rides along, so a failure says why.
    expect([run.status, run.template?.Description, run.status === 0 ? '' : run.stderr]).toEqual([0, 'Gather records API (dev)', '']);
  });
});
