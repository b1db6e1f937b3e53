/**
 * The CDK app: `npx cdk synth|deploy -c stage=<name>` builds one stack for that stage (default `dev`), checked by
 * cdk-nag's AwsSolutions rules. It needs no AWS credentials to synthesize.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GatherStack } from './stack.js';
import { StageConfigError, stageConfig } from './stage-config.js';

export function createApp(context: Record<string, unknown> = {}): { app: App; stack: GatherStack } {
  const app = new App({ context });
  const stage = String(app.node.tryGetContext('stage') ?? 'dev');
  const config = stageConfig(app.node.tryGetContext('stages'), stage);
  const stack = new GatherStack(app, `Gather-${stage}`, {
    stage,
    config,
    description: `Gather records API (${stage})`,
    ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
      ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }
      : {}),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/**
 * Whether this file is the program node was started with (cdk.json's `app`), not a module a test imported. Compared as
 * real paths: `import.meta.url` is percent-encoded and has its symlinks resolved, `process.argv[1]` neither, so a
 * checkout under a path with a space or reached through a symlink would otherwise synthesize nothing, silently.
 */
function isEntryPoint(): boolean {
  const started = process.argv[1];
  if (started === undefined) return false;
  try {
    return realpathSync(started) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  try {
    createApp().app.synth();
  } catch (error) {
    // A setting in cdk.json or -c that cannot be used is the operator's to mend: its message alone, as one line.
    if (!(error instanceof StageConfigError)) throw error;
    console.error(`error: ${error.message}`);
    process.exitCode = 1;
  }
}
