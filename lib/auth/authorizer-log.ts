/**
 * The authorizer's log lines. Its bundle carries no Powertools (the SDK and our code only), so it writes its two lines
 * itself, in the same shape: one JSON object per line, straight to stdout, as Powertools writes. Lambda's runtime
 * prefixes whatever `console.*` prints with a timestamp, the request id and the level, and neither a CloudWatch JSON
 * filter pattern nor Logs Insights' automatic JSON fields read such a line. No line ever holds the key.
 */

/**
 * The line the authorizer writes when the key table cannot be read (clients then get 503 `unavailable`). The stack
 * counts these lines into the `AuthorizerFailures` metric, which its alarm watches (infra/constructs/monitoring.ts):
 * Lambda's `Errors` metric counts every refused key too (a 401 is a thrown `Unauthorized`), so it cannot tell an outage
 * from a typo or a scanner. The line carries the stage (GATHER_STAGE), which the metric takes as its dimension.
 */
export const keyLookupFailedMessage = 'key lookup failed';

function writeLine(level: 'ERROR' | 'WARN', message: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ level, message, ...fields })}\n`);
}

export function logKeyLookupFailure(error: unknown): void {
  writeLine('ERROR', keyLookupFailedMessage, { stage: process.env.GATHER_STAGE ?? 'local', error: String(error) });
}

/** Recording a key's last use failed; the key was still allowed. The token id names the key without revealing it. */
export function logLastUseNotRecorded(tokenId: string, error: unknown): void {
  writeLine('WARN', 'could not record last use', { token_id: tokenId, error: String(error) });
}
