/**
 * Builds a bundle with the stack's esbuild settings (infra/function-bundling.ts), for the benchmarks: a repository
 * entry file, or TypeScript source given inline (resolved from the repository root).
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { functionBundling } from '../../infra/function-bundling.js';
import { repositoryRoot } from '../local/local-stack.js';

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
