/**
 * The one log line the authorizer writes when the key table cannot be read (clients then get 503 `unavailable`). The
 * stack counts these lines into the `AuthorizerFailures` metric, which its alarm watches (infra/constructs/monitoring.ts):
 * Lambda's `Errors` metric counts every refused key too (a 401 is a thrown `Unauthorized`), so it cannot tell an outage
 * from a typo or a scanner. The line names the error, never the key.
 */
export const keyLookupFailedMessage = 'key lookup failed';

/**
 * Written straight to stdout, as Powertools' logger writes: Lambda's runtime prefixes whatever `console.error` prints
 * with a timestamp, the request id and the level, and a CloudWatch JSON filter pattern matches only a line that is
 * JSON from its first character. The line carries the stage (GATHER_STAGE), which the metric takes as its dimension.
 */
export function logKeyLookupFailure(error: unknown): void {
  process.stdout.write(`${JSON.stringify({ level: 'ERROR', message: keyLookupFailedMessage, stage: process.env.GATHER_STAGE ?? 'local', error: String(error) })}\n`);
}
