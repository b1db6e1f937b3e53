/**
 * A Retry-After header as this API's clients read it: delta-seconds (RFC 9110 section 10.2.3), which is all the API and
 * API Gateway send; an HTTP-date or anything else is undefined, and the caller falls back on its own backoff. Shared by
 * the importer's batch sender and the smoke scenario.
 */
export function retryAfterSeconds(header: string | null | undefined): number | undefined {
  const text = header?.trim();
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}
