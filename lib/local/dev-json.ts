/** Where scripts find the local stack: `$DATA_DIR/dev.json`, written by `npm start` when it is ready. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DevStackInfo } from './local-stack.js';

export function devJsonPath(dataDir?: string): string {
  return join(resolve(dataDir ?? process.env.DATA_DIR ?? '.data'), 'dev.json');
}

/**
 * The local stack a CLI talks to, unless the command line already names an API and a key (then dev.json is not read,
 * so a broken one does not stand in the way).
 */
export function devJsonUnlessGiven(given: { readonly baseUrl?: string | undefined; readonly token?: string | undefined }): DevStackInfo | undefined {
  return given.baseUrl !== undefined && given.token !== undefined ? undefined : readDevJson();
}

/** The running local stack, or undefined when none is running there. */
export function readDevJson(dataDir?: string): DevStackInfo | undefined {
  const path = devJsonPath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DevStackInfo;
  } catch {
    // npm start writes it whole (a temporary file, renamed): a file that does not parse was written by something else.
    throw new Error(`${path} is not the local stack's dev.json (it does not parse); stop npm start, delete it and start again`);
  }
}
