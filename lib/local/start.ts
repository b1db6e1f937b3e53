/**
 * `npm start`: the local stack in the foreground. PORT (default 3000) and DATA_DIR (default .data) change the defaults;
 * AUTHORIZER_CACHE_TTL_SECONDS the authorizer cache (default 60, the stage default); LOCAL_RATE_LIMIT=<rate>[/<burst>]
 * throttles each workspace as a stage's usage plan does (default: no limit). Ctrl-C stops everything, Java included,
 * also while it is still starting.
 */
import { optionalIntEnv } from '../config.js';
import { constants } from 'node:os';
import { DataDirInUseError } from './data-dir-lock.js';
import { DynamoDbLocalError } from './dynamodb-local.js';
import { LocalStackError, PortInUseError, startLocalStack, type LocalStack } from './local-stack.js';
import { parseRateLimit, type RateLimit } from './workspace-rate-limit.js';

const dataDir = process.env.DATA_DIR || '.data';
// Read before anything starts, so a mistyped setting stops `npm start` at once, in one line, instead of silently
// limiting nothing or failing later with a stack trace.
let port: number;
let authorizerCacheTtlSeconds: number;
let workspaceRateLimit: RateLimit | undefined;
try {
  port = optionalIntEnv('PORT', 3000);
  if (port > 65535) throw new Error(`PORT must be a port number, 0 to 65535 (0 picks a free one), got "${process.env.PORT}"`);
  authorizerCacheTtlSeconds = optionalIntEnv('AUTHORIZER_CACHE_TTL_SECONDS', 60);
  // API Gateway's own range for an authorizer's cache TTL.
  if (authorizerCacheTtlSeconds > 3600) throw new Error(`AUTHORIZER_CACHE_TTL_SECONDS must be 0 to 3600, as on a stage, got "${process.env.AUTHORIZER_CACHE_TTL_SECONDS}"`);
  // Unset or empty is no limit (SPEC: none unless told to); anything else must be a limit, blanks included.
  workspaceRateLimit = process.env.LOCAL_RATE_LIMIT ? parseRateLimit(process.env.LOCAL_RATE_LIMIT) : undefined;
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

let stack: LocalStack | undefined;
let stopping = false;
const shutdown = (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => {
  if (stopping) return;
  stopping = true;
  if (!stack) {
    // Still starting: exiting closes the pipe that DynamoDB Local's watchdog holds, and that stops Java. The exit code is
    // the shell's for that signal (128 + its number).
    console.log(`\n${signal}: stopping while starting up`);
    process.exit(128 + constants.signals[signal]);
  }
  console.log(`\n${signal}: stopping the gateway and DynamoDB Local...`);
  stack.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
// SIGHUP: the terminal it ran in was closed; stopped as for Ctrl-C, so dev.json and the lock go with it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
// Output piped into something that stopped reading (`npm start | head`) must not stop the stack at its next log line.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

try {
  stack = await startLocalStack({
    port,
    dataDir,
    // Not HOST: shells and CI images often export that as the machine's name, which would serve the full-scope dev key
    // beyond this machine without anyone asking for it.
    ...(process.env.GATHER_HOST ? { host: process.env.GATHER_HOST } : {}),
    authorizerCacheTtlSeconds,
    ...(workspaceRateLimit ? { workspaceRateLimit } : {}),
    // Tests only: a longer function timeout than the stack's, for a slow CI machine (lib/local/gateway.ts).
    ...(process.env.LOCAL_FUNCTION_TIMEOUT_SECONDS ? { functionTimeoutSeconds: optionalIntEnv('LOCAL_FUNCTION_TIMEOUT_SECONDS', 0) } : {}),
    log: (line) => console.log(JSON.stringify(line)),
    // Tests only: a proxy that fails DynamoDB calls on request (lib/local/fault-proxy.ts).
    faultProxy: process.env.GATHER_FAULT_PROXY === '1',
  });
  const { baseUrl, token } = stack.info;
  // The gateway keeps serving, with 503s, and takes up DynamoDB Local again should it come back on the same port; but
  // whoever runs this must hear that it stopped, rather than meet a wall of 503s.
  const java = stack.dynamoDb.process;
  java.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(
      `\nDynamoDB Local (pid ${java.pid}) stopped unexpectedly (${signal ?? `exit code ${code}`}): every request answers 503 until it runs ` +
        `again at ${stack!.info.dynamodbEndpoint}. Stop this "npm start" (Ctrl-C) and start it again; the data in ${dataDir} is kept.`,
    );
  });
  // The one place a key is printed: the owner of this machine needs the dev key to use the API.
  console.log(`
Gather is running at ${baseUrl}  (DynamoDB Local at ${stack.info.dynamodbEndpoint}, data in ${dataDir})

  API key (workspace "dev", all scopes):  ${token}

  export API_KEY=${token}
  curl ${baseUrl}/models/account/records -H "Authorization: Token $API_KEY" -d name="Sterling Cooper" -d size="50-100"

Settings for scripts are in ${dataDir}/dev.json.${workspaceRateLimit ? ` Each workspace is limited to ${workspaceRateLimit.rateLimit} requests/s, bursts of ${workspaceRateLimit.burstLimit} (LOCAL_RATE_LIMIT).` : ''} Press Ctrl-C to stop.
`);
} catch (error) {
  if (error instanceof PortInUseError) {
    console.error(`${error.message}: is another "npm start" running? Stop it, or choose another port: PORT=3001 npm start`);
  } else if (error instanceof DataDirInUseError || error instanceof LocalStackError || error instanceof DynamoDbLocalError) {
    console.error(error.message);
  } else if (typeof (error as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!)) {
    // The system refused something (a DATA_DIR that is a file or not writable, a GATHER_HOST this machine does not
    // have): its message names the path or address, and a stack trace would only hide it.
    console.error(`Could not start the local stack: ${(error as Error).message}`);
  } else {
    console.error(`Could not start the local stack: ${(error as Error).stack ?? String(error)}`);
  }
  process.exit(1);
}
