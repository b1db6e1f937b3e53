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
  return given.baseUrl && given.token ? undefined : readDevJson();
}

/**
 * Why a script found no local stack: where it looked, and how to point it at a stack started with another DATA_DIR
 * (`DATA_DIR=/tmp/x npm start` writes its dev.json there, and a script run without that DATA_DIR looks in .data).
 */
export function noLocalStackFound(path: string, dataDirOption = ''): string {
  return `no local stack found (${path} does not exist): start it with "npm start"; for one started with another DATA_DIR, run this with the same DATA_DIR${dataDirOption}`;
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

const loopback = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a URL names the local stack: the same origin, or another loopback name for the same port. */
function isLocalStack(url: string, local: DevStackInfo): boolean {
  try {
    const [a, b] = [new URL(url), new URL(local.baseUrl)];
    return a.origin === b.origin || (a.protocol === b.protocol && a.port === b.port && loopback.has(a.hostname) && loopback.has(b.hostname));
  } catch {
    return false;
  }
}

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/**
 * The API and key a CLI uses: those given (the key also from GATHER_TOKEN), else the local stack's (dev.json, read only
 * when something is missing; a dev.json that does not parse is the problem then). The local dev key
 * goes to the local stack only: with a --base-url that names another API and no key given, there is no key, and the
 * CLI says so, rather than sending the dev key to a server that is not ours.
 */
export function apiTarget(
  given: { readonly baseUrl?: string | undefined; readonly token?: string | undefined },
  envToken: string | undefined,
): { readonly baseUrl: string | undefined; readonly token: string | undefined; readonly problem: string | undefined } {
  let local: DevStackInfo | undefined;
  try {
    local = devJsonUnlessGiven(given);
  } catch (error) {
    return { baseUrl: undefined, token: undefined, problem: (error as Error).message };
  }
  // An empty value counts as not given.
  const givenUrl = given.baseUrl || undefined;
  const baseUrl = givenUrl ?? local?.baseUrl;
  const toLocal = local !== undefined && (givenUrl === undefined || isLocalStack(givenUrl, local));
  const token = (given.token || undefined) ?? (envToken || undefined) ?? (toLocal ? local?.token : undefined);
  const problem = !baseUrl
    ? `${noLocalStackFound(devJsonPath())}; or give --base-url and --token`
    : !isHttpUrl(baseUrl)
      ? `--base-url must be an http:// or https:// URL; "${baseUrl}" is not one`
      : !token
      ? `no key for ${baseUrl}: give --token (or GATHER_TOKEN); the local dev key is only ever sent to the local stack`
      : undefined;
  return { baseUrl, token, problem };
}
