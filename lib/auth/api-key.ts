/**
 * API key format: `gth_` + 32 base62 characters of randomness (about 190 bits, from crypto.randomBytes) + a
 * 6-character base62 CRC32 checksum of everything before it. The prefix lets secret scanners spot a key; the checksum
 * lets the authorizer refuse a mistyped or made-up key without reading the table. Only a SHA-256 of the key is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const keyPrefix = 'gth_';
const base62Alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomLength = 32;
const checksumLength = 6;
const keyPattern = new RegExp(`^${keyPrefix}[0-9A-Za-z]{${randomLength + checksumLength}}$`);

/** `length` base62 characters drawn without modulo bias (bytes >= 248 are rejected and redrawn). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += base62Alphabet[byte % 62];
    }
  }
  return out;
}

function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < checksumLength; i += 1) {
    out = base62Alphabet[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** A new API key. Show it once; store only {@link hashApiKey} of it. */
export function generateApiKey(): string {
  const body = keyPrefix + randomBase62(randomLength);
  return body + checksum(body);
}

/** True when the key has the right shape and its checksum matches: no table read needed to refuse it. */
export function isWellFormedApiKey(key: string): boolean {
  if (!keyPattern.test(key)) return false;
  const body = key.slice(0, key.length - checksumLength);
  return checksum(body) === key.slice(key.length - checksumLength);
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A short, non-secret prefix that lets an operator recognise a key in a list (`gth_AbC1…`). */
export function displayPrefix(key: string): string {
  return key.slice(0, keyPrefix.length + 4);
}

/** Extracts the key from `Authorization: Token <key>` or `Bearer <key>`; undefined for any other shape. */
export function keyFromAuthorizationHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^\s*(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** A new token id: the public handle used to list and revoke a key. */
export function generateTokenId(): string {
  return `tok_${randomBase62(16)}`;
}

/** Whether a string has the shape of a token id made by {@link generateTokenId}. */
export function isTokenId(value: string): boolean {
  return /^tok_[0-9A-Za-z]{16}$/.test(value);
}

/**
 * Keys inside any text: `gth_` and a run of letters and digits after it (a key, a mistyped or cut one), or a whole key's
 * 38 characters without their prefix, which its checksum tells from any other such run. What an operator pastes by
 * mistake (`Token gth_...`, `API_KEY=gth_...`, a name) or a client puts in a URL.
 */
const keyLikeInText = /gth_[0-9A-Za-z]+|(?<![0-9A-Za-z])[0-9A-Za-z]{38}(?![0-9A-Za-z])/g;

/** The keys, or parts of keys, in a text: prefixed runs of at least `minimum` characters after `gth_`, and bare keys. */
function keysIn(text: string, minimum: number): string[] {
  return [...text.matchAll(keyLikeInText)]
    .map(([match]) => match)
    .filter((match) => (match.startsWith(keyPrefix) ? match.length - keyPrefix.length >= minimum : isWellFormedApiKey(keyPrefix + match)));
}

/**
 * Whether a text holds a key, or most of one: 16 or more of its characters after `gth_` (95 bits; a name such as
 * `gth_export` is not one), or a whole key without its prefix. The admin CLI refuses such an argument.
 */
export function containsApiKey(text: string): boolean {
  return keysIn(text, 16).length > 0;
}

/** A text with every percent-encoded ASCII character decoded once; any other escape, valid or not, left as it is. */
const asciiDecodedOnce = (text: string) => text.replace(/%([0-7][0-9A-Fa-f])/g, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));

const isKeyCharacter = (character: string) => /^[0-9A-Za-z]$/.test(character);

/**
 * Where the first key in a path's segments starts, as read at one stage of decoding: the first segment holding `gth_`
 * (in any case), or holding the start of a whole key's 38 characters without the prefix, which its checksum
 * recognises even when a `/`, `-`, space or escape cuts them apart. With what of that segment a log may show.
 */
function keyStartIn(segments: readonly string[]): { readonly index: number; readonly shown: string } | undefined {
  let found: { index: number; shown: string } | undefined;
  const prefixed = segments.findIndex((segment) => segment.toLowerCase().includes(keyPrefix));
  if (prefixed !== -1) {
    const segment = segments[prefixed]!;
    const at = segment.toLowerCase().indexOf(keyPrefix);
    found = { index: prefixed, shown: `${segment.slice(0, at)}${displayPrefix(segment.slice(at))}` };
  }
  // The key characters of the whole path, in order, each with the segment it is in.
  const characters: string[] = [];
  const segmentOf: number[] = [];
  segments.forEach((segment, index) => {
    // An escape is no key character, as a `-` is not: its hex digits would break a key's run. One left once ASCII
    // escapes are decoded is a byte of a character outside ASCII (a soft hyphen or zero-width space pasted into a key).
    for (const character of segment.replace(/%[0-9A-Fa-f]{2}/g, '')) {
      if (isKeyCharacter(character)) {
        characters.push(character);
        segmentOf.push(index);
      }
    }
  });
  const joined = characters.join('');
  const bodyLength = randomLength + checksumLength;
  for (let start = 0; start + bodyLength <= joined.length && (found === undefined || segmentOf[start]! < found.index); start += 1) {
    if (isWellFormedApiKey(keyPrefix + joined.slice(start, start + bodyLength))) return { index: segmentOf[start]!, shown: '' };
  }
  return found;
}

/**
 * A URL path for a log line, with no key in it: from the segment where a key starts nothing more is shown but, for a
 * prefixed key, its display prefix. A key is looked for in the path as sent and after each round of decoding its
 * percent-encoded ASCII, until a round changes nothing (a key encoded four times is still a key, and `%2517...`
 * decodes to a control character that eats a key's first two characters, so no single stage is enough). The segments
 * before it are shown as they came.
 */
export function redactApiKeysInPath(path: string): string {
  const segments = path.split('/');
  let stage = segments;
  let first: { index: number; shown: string } | undefined;
  for (let round = 0; round <= 16; round += 1) {
    const found = keyStartIn(stage);
    // The earliest segment wins; at the same one, a stage that shows the key's display prefix.
    if (found && (first === undefined || found.index < first.index || (found.index === first.index && first.shown === ''))) first = found;
    const next = stage.map(asciiDecodedOnce);
    if (next.every((segment, index) => segment === stage[index])) break;
    stage = next;
  }
  if (first === undefined) return path;
  return [...segments.slice(0, first.index), `${first.shown}…[redacted]`].join('/');
}
