/**
 * The request's headers as the handlers read them, in one pass over the event: names lower-cased, a list header sent on
 * several lines joined, a one-value header sent twice with different values refused, and two `Authorization` lines
 * refused.
 *
 * API Gateway's `headers` keeps only the last line of a header sent more than once, and the last of its spellings
 * (`If-Match` and `if-match` are two keys); `multiValueHeaders` has every line under the spelling it came with. A list
 * header's lines are joined, as RFC 9110 (section 5.3) says they mean, whatever their spellings.
 *
 * This replaces @middy/http-header-normalizer, which built two new maps per request (`headers` and
 * `multiValueHeaders`) and kept only the last spelling's lines of a header, so that two extra passes of our own had to
 * run around it (docs/decisions.md, "Headers are read in one pass of our own").
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { HttpError, malformedHeader } from './http-error.js';

/** Header names are lower-case. */
export type RequestHeaders = Readonly<Record<string, string | undefined>>;

/** Headers that are lists (RFC 9110 section 5.3: repeated lines are one comma-joined list). */
const listHeaders = ['if-match', 'if-none-match', 'content-encoding'] as const;
/** Headers that hold one value: two lines with different values are refused, not read as the last one. */
const singletonHeaders = ['idempotency-key', 'content-type'] as const;
/**
 * Two Authorization lines are two identities, and which one the authorizer was given is API Gateway's choice: a request
 * to a route that takes a key is refused (401), as the local gateway refuses it before its authorizer. A public route
 * (`/health`, `/openapi.json`) reads no identity, so there they mean nothing.
 */
const identityHeader = 'authorization';

/** The headers whose every line is read, each with a bit, so a pass can note which it has seen without allocating. */
const watchedBits = new Map<string, number>([...listHeaders, ...singletonHeaders, identityHeader].map((name, i) => [name, 1 << i]));
/** Only names of these lengths can be watched ones: most names are passed over after one length check. */
const watchedLengths = new Set([...watchedBits.keys()].map((name) => name.length));

/**
 * Reads the event's headers (see above) and writes the result back to `event.headers`, so that what reads the event
 * after this (the Idempotency-Key step's key and request fingerprint) sees the same headers. `multiValueHeaders` is
 * left as API Gateway sent it. GET requests are not held to the one-value rule: a read takes neither a body nor a key.
 */
export function readRequestHeaders(event: APIGatewayProxyEvent, options: { readonly takesKey: boolean }): RequestHeaders {
  const headers: Record<string, string | undefined> = {};
  const source = event.headers;
  if (source) for (const name in source) headers[name.toLowerCase()] = source[name];
  const multi = event.multiValueHeaders;
  if (multi && hasRepeatedLines(multi)) applyRepeatedLines(headers, gatherLines(multi), { isWrite: event.httpMethod !== 'GET', takesKey: options.takesKey });
  event.headers = headers as APIGatewayProxyEvent['headers'];
  return headers;
}

/** Whether a watched header came with more than one line, on one spelling or across several. */
function hasRepeatedLines(multi: NonNullable<APIGatewayProxyEvent['multiValueHeaders']>): boolean {
  let seen = 0;
  for (const name in multi) {
    if (!watchedLengths.has(name.length)) continue;
    const bit = watchedBits.get(name.toLowerCase());
    if (bit === undefined) continue;
    if ((seen & bit) !== 0 || (multi[name]?.length ?? 0) > 1) return true;
    seen |= bit;
  }
  return false;
}

/** Every line of each watched header, its spellings' lines in the order the event lists them. */
function gatherLines(multi: NonNullable<APIGatewayProxyEvent['multiValueHeaders']>): Map<string, readonly string[]> {
  const lines = new Map<string, readonly string[]>();
  for (const name in multi) {
    const lower = name.toLowerCase();
    if (!watchedBits.has(lower)) continue;
    lines.set(lower, [...(lines.get(lower) ?? []), ...(multi[name] ?? [])]);
  }
  return lines;
}

function applyRepeatedLines(
  headers: Record<string, string | undefined>,
  lines: Map<string, readonly string[]>,
  { isWrite, takesKey }: { readonly isWrite: boolean; readonly takesKey: boolean },
): void {
  if (takesKey && (lines.get(identityHeader)?.length ?? 0) > 1) {
    throw new HttpError(401, 'unauthorized', 'Send one Authorization header: this request has several', [{ field: 'Authorization', issue: 'sent more than once' }]);
  }
  for (const name of listHeaders) {
    const values = lines.get(name);
    if (values && values.length > 1) headers[name] = values.join(', ');
  }
  if (!isWrite) return;
  for (const name of singletonHeaders) {
    const values = lines.get(name);
    if (values && values.length > 1 && new Set(values).size > 1) {
      throw malformedHeader(name, `${name} was sent more than once, with different values`, 'sent more than once');
    }
  }
}
