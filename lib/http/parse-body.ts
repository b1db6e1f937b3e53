/**
 * Request bodies (SPEC section 4): `application/json` (an object) and `application/x-www-form-urlencoded` (curl -d).
 * The API is deployed with binary media type `*` so bodies arrive base64-encoded and their bytes are checked here:
 * invalid UTF-8 is a 400 rather than silently replaced characters.
 *
 * Written here rather than with @middy/http-json-body-parser and @middy/http-urlencode-body-parser because the API needs
 * what those do not give: strict UTF-8 (also inside percent-escapes), repeated form keys as arrays without `a[b]`
 * nesting, JSON null and `_unset` as removals, and its own error envelope.
 */
import { ValidationError } from '../records/errors.js';
import { isJsonObject, parseExactJson, TooDeepToWalk } from '../records/exact-json.js';
import { nestingIssue } from '../records/limits.js';
import type { RecordPayload } from '../records/payload.js';
import { HttpError } from './http-error.js';

// A body may start with a byte-order mark, a signature of its encoding and not part of its text: the body's decoder
// drops it. Inside a form, every key and value is decoded on its own, and a U+FEFF at the start of one is a character
// the client percent-encoded on purpose, kept as the URL Standard's form parsing keeps it ("UTF-8 decode without
// BOM"); dropping it there would store `%EF%BB%BFhello` as `hello` and merge `%EF%BB%BFnote` into `note`.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const strictUtf8KeepingBom = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const unsetParameter = '_unset';

export interface RawBody {
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
  readonly contentType: string | undefined;
  /** The Content-Encoding header: bodies are taken as sent, so any coding but `identity` is a 415. */
  readonly contentEncoding?: string | undefined;
}

/** A request's body as the parsers take it: the event's body and the two headers that say how to read it. */
export function rawBodyOf(request: {
  readonly event: { readonly body: string | null; readonly isBase64Encoded: boolean };
  readonly headers: Readonly<Record<string, string | undefined>>;
}): RawBody {
  return {
    body: request.event.body,
    isBase64Encoded: request.event.isBase64Encoded,
    contentType: request.headers['content-type'],
    contentEncoding: request.headers['content-encoding'],
  };
}

function malformed(message: string): HttpError {
  return new HttpError(400, 'malformed_body', message);
}

function decodeUtf8(bytes: Uint8Array, what: string, decoder = strictUtf8): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw malformed(`The ${what} is not valid UTF-8`);
  }
}

/** The media type and charset of a Content-Type header, lower-cased. */
export function parseContentType(header: string | undefined): { mediaType: string; charset?: string } | undefined {
  if (!header) return undefined;
  const [type, ...params] = header.split(';');
  const mediaType = type!.trim().toLowerCase();
  let charset: string | undefined;
  for (const param of params) {
    const [key, value] = param.split('=');
    if (key?.trim().toLowerCase() === 'charset' && value) charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return charset ? { mediaType, charset } : { mediaType };
}

/** The value of an ASCII hex digit, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** Percent-decodes one form component into bytes (`+` is a space); a `%` not followed by two hex digits stays as it is. */
function formComponentBytes(component: string): Uint8Array {
  const raw = Buffer.from(component, 'utf8');
  // Decoding never lengthens: the bytes go into a new buffer as long as the component, and the part written is returned.
  const bytes = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i += 1) {
    const byte = raw[i]!;
    const high = byte === 0x25 && i + 2 < raw.length ? hexValue(raw[i + 1]!) : -1;
    const low = high >= 0 ? hexValue(raw[i + 2]!) : -1;
    if (low >= 0) {
      bytes[length++] = high * 16 + low;
      i += 2;
    } else bytes[length++] = byte === 0x2b ? 0x20 : byte;
  }
  return bytes.subarray(0, length);
}

/**
 * One form component decoded: most have no `%` at all, and are then the text itself with `+` as a space (the body was
 * checked as UTF-8 as a whole); the others are percent-decoded and checked again, since an escape may hold any byte.
 * Each component once took about a microsecond of buffers and decoders, so that 1 MB of `a=&` took 1.8 s.
 */
function formComponent(component: string): string {
  if (!component.includes('%')) return component.includes('+') ? component.replaceAll('+', ' ') : component;
  return decodeUtf8(formComponentBytes(component), 'form body', strictUtf8KeepingBom);
}

/**
 * `a=1&b&c=3` as its key and value pairs, still encoded: a pair without `=` has an empty value, and empty pairs are
 * skipped. Form bodies and (in the local gateway) query strings split the same way and decode differently.
 */
export function encodedPairs(text: string): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    pairs.push(eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)]);
  }
  return pairs;
}

export function parseForm(text: string): RecordPayload {
  const values = new Map<string, string[]>();
  const unset: string[] = [];
  for (const [encodedKey, encodedValue] of encodedPairs(text)) {
    const key = formComponent(encodedKey);
    const value = formComponent(encodedValue);
    if (key === unsetParameter) {
      unset.push(value);
      continue;
    }
    const list = values.get(key) ?? [];
    list.push(value);
    values.set(key, list);
  }
  // A repeated key becomes an array of strings; a single one stays a string.
  const set = [...values].map(([key, list]) => [key, list.length === 1 ? list[0] : list] as const);
  return { source: 'form', set, unset };
}

function parseJsonText(text: string): unknown {
  try {
    return parseExactJson(text);
  } catch (error) {
    // Valid JSON, refused for its nesting (a 422, as a value nested 17 deep is), not for its syntax.
    if (error instanceof TooDeepToWalk) throw new ValidationError(error.message, [{ field: '*', issue: nestingIssue }]);
    throw malformed(`The body is not valid JSON: ${(error as Error).message}`);
  }
}

/** A JSON object as a record payload: `null` removes a field, every other value is stored as given. */
export function payloadFromJsonObject(object: Record<string, unknown>): RecordPayload {
  const set: (readonly [string, unknown])[] = [];
  const unset: string[] = [];
  // JSON.parse makes `__proto__` an own property, so Object.entries sees it as the plain name it is.
  for (const [key, value] of Object.entries(object)) {
    if (value === null) unset.push(key);
    else set.push([key, value]);
  }
  return { source: 'json', set, unset };
}

export function parseJson(text: string): RecordPayload {
  const parsed = parseJsonText(text);
  if (!isJsonObject(parsed)) throw malformed('The JSON body must be an object of fields');
  return payloadFromJsonObject(parsed);
}

export interface ParseBodyOptions {
  readonly maxBytes: number;
}

interface DecodedBody {
  readonly mediaType: string | undefined;
  readonly bytes: Buffer;
}

/** The body's bytes and media type, with the size, charset and presence checks every body gets. */
function decodeBody(raw: RawBody, options: ParseBodyOptions, what: string): DecodedBody {
  const bytes = raw.body === null ? Buffer.alloc(0) : Buffer.from(raw.body, raw.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.length > options.maxBytes) {
    throw new HttpError(413, 'payload_too_large', `The body is ${bytes.length} bytes; ${what} may be at most ${options.maxBytes}`);
  }
  // No body at all is a 400 whatever the type says: an empty form would otherwise read as a form with no fields (a 422
  // for the missing unique field) and empty JSON as JSON that does not parse.
  if (bytes.length === 0) throw malformed('A body is required');
  // A gzip body read as UTF-8 would be a puzzling 400, and a `br` header on a plain body would be stored as if it were
  // not there; RFC 9110 answers a coding the server does not take with 415. An empty value names no coding; lines sent
  // more than once arrive joined (`br, identity`), never as the last alone.
  const coding = raw.contentEncoding?.trim().toLowerCase();
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    throw new HttpError(415, 'unsupported_media_type', `Content-Encoding ${raw.contentEncoding} is not accepted; send the body uncompressed`);
  }
  const contentType = parseContentType(raw.contentType);
  if (!contentType) return { mediaType: undefined, bytes };
  if (contentType.charset && contentType.charset !== 'utf-8' && contentType.charset !== 'utf8') {
    throw new HttpError(415, 'unsupported_media_type', `Only UTF-8 bodies are accepted, not charset=${contentType.charset}`);
  }
  return { mediaType: contentType.mediaType, bytes };
}

// SPEC: JSON is `application/json`; anything but it and forms is a 415, `+json` types (merge-patch, vnd.api) included.
const isJson = (mediaType: string | undefined) => mediaType === 'application/json';

/** Parses an upsert body (JSON or form), or throws the HttpError that explains why it cannot be parsed. */
export function parseRecordBody(raw: RawBody, options: ParseBodyOptions): RecordPayload {
  const { mediaType, bytes } = decodeBody(raw, options, 'a single record');
  if (isJson(mediaType)) return parseJson(decodeUtf8(bytes, 'body'));
  // The bytes before percent-decoding must be UTF-8 too.
  if (mediaType === 'application/x-www-form-urlencoded') return parseForm(decodeUtf8(bytes, 'body'));
  throw new HttpError(
    415,
    'unsupported_media_type',
    `Content-Type ${mediaType ?? '(none)'} is not supported; use application/json or application/x-www-form-urlencoded`,
  );
}

/** Parses a JSON-only body (batches, model definitions) into a JSON object. */
export function parseJsonObjectBody(raw: RawBody, options: ParseBodyOptions & { readonly what: string }): Record<string, unknown> {
  const { mediaType, bytes } = decodeBody(raw, options, options.what);
  if (!isJson(mediaType)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type ${mediaType ?? '(none)'} is not supported here; send application/json`);
  }
  const parsed = parseJsonText(decodeUtf8(bytes, 'body'));
  if (!isJsonObject(parsed)) throw malformed('The JSON body must be an object');
  return parsed;
}
