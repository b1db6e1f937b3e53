/**
 * Builds a bundle with the stack's esbuild settings (infra/function-bundling.ts), for the benchmarks: a repository
 * entry file, or TypeScript source given inline (resolved from the repository root).
 */
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { build } from 'esbuild';
import { functionBundling } from '../../infra/function-bundling.js';
import { repositoryRoot } from '../local/local-stack.js';
import type { rawUpsertRequest, rawWrite } from './raw-writes.js';

export async function bundleLikeTheStack(entry: string | { readonly contents: string }, outfile: string): Promise<string> {
  const { banner, ...settings } = functionBundling;
  await build({
    ...(typeof entry === 'string'
      ? { entryPoints: [join(repositoryRoot, entry)] }
      : { stdin: { contents: entry.contents, resolveDir: repositoryRoot, loader: 'ts' } }),
    ...settings,
    mainFields: [...settings.mainFields],
    bundle: true,
    banner: { js: banner },
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

/** What a bundle built by {@link bundleUpsertWithRawWrites} exports. */
export interface UpsertWithRawWrites {
  readonly handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
  /** The function's own process-wide client: the raw writes go through it too. */
  readonly sharedDynamoDbClient: () => DynamoDBClient;
  readonly rawWrite: typeof rawWrite;
  readonly rawUpsertRequest: typeof rawUpsertRequest;
}

/**
 * The upsert function's code and the raw writes (lib/bench/raw-writes.ts) in one bundle, as the benchmarks that compare
 * them call by call need it: one copy of the SDK and one client for both sides, as one Lambda container has. With the
 * raw writes in a bundle of their own, each side ran its own copy of the SDK, and the copy that served more of the
 * calls stayed warmer in the CPU's caches: the ratio then depended on how the calls were shared between the copies
 * (docs/performance-log.md).
 */
export function bundleUpsertWithRawWrites(outfile: string): Promise<string> {
  return bundleLikeTheStack(
    {
      contents: [
        "export { handler } from './functions/upsert-record.ts';",
        "export { sharedDynamoDbClient } from './lib/store/dynamodb-client.ts';",
        "export { rawUpsertRequest, rawWrite } from './lib/bench/raw-writes.ts';",
      ].join('\n'),
    },
    outfile,
  );
}
