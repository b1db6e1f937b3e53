/**
 * What the middy stack's own steps keep per request (when it started, whether a replay answered it, whether it claimed
 * its Idempotency-Key), in middy's per-request store: `request.internal`, a fresh object for every request, so nothing
 * outlives its request and no step keeps a private map of requests. Keys are namespaced `gather.<step>.<name>`.
 */
export function requestState(request: { internal: unknown }): Record<string, unknown> {
  return request.internal as Record<string, unknown>;
}
