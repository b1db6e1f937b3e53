/**
 * A CDK App created without an outdir synthesizes into a fresh temporary `cdk.out*` directory. The infra tests register
 * every app they create here, and the directories are removed after the test file, so runs leave nothing in /tmp.
 */
import { rmSync } from 'node:fs';
import type { App } from 'aws-cdk-lib';

const created: App[] = [];

/** Registers an app (or a `{ app }` result) for removal of its output directory after the test file; returns it. */
export function temporary<T extends App | { readonly app: App }>(made: T): T {
  created.push('app' in made ? made.app : made);
  return made;
}

afterAll(() => {
  for (const app of created.splice(0)) rmSync(app.outdir, { recursive: true, force: true });
});
