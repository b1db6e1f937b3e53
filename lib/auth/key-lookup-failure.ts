/**
 * The one log line the authorizer writes when the key table cannot be read (clients then get 503 `unavailable`). The
 * stack counts these lines into the `AuthorizerFailures` metric, which its alarm watches (infra/constructs/monitoring.ts):
 * Lambda's `Errors` metric counts every refused key too (a 401 is a thrown `Unauthorized`), so it cannot tell an outage
 * from a typo or a scanner. The line names the error, never the key.
 */
export const keyLookupFailedMessage = 'key lookup failed';

export function logKeyLookupFailure(error: unknown): void {
  console.error(JSON.stringify({ level: 'ERROR', message: keyLookupFailedMessage, error: String(error) }));
}
