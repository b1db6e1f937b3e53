/**
 * How every function is bundled, in one place: the stack (infra/constructs/api-function.ts) bundles with these
 * settings and `npm run bench` builds the bundles it weighs and cold-starts with the same ones.
 *
 * - One ESM file per function with everything in it, the AWS SDK included, so the version tested is the version run.
 * - Whitespace and syntax are minified; identifiers are not, so a stack trace in the logs names real functions.
 * - No source maps. Running with `--enable-source-maps` made Node parse the function's 2.3 MB map on every cold start:
 *   +22 to +30 ms on the upsert function's 90 to 120 ms (`npm run bench`, docs/capacity.md). Kept identifiers cost
 *   no measurable init time over full minification and keep traces readable without that price.
 */
export const functionBundling = {
  format: 'esm',
  platform: 'node',
  target: 'node24',
  mainFields: ['module', 'main'],
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: false,
  sourcemap: false,
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
} as const;
