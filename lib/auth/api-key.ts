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
 * mistake (`Token gth_...`, `API_KEY=gth_...`, a name).
 */
const keyLikeInText = /gth_[0-9A-Za-z]+|(?<![0-9A-Za-z])[0-9A-Za-z]{38}(?![0-9A-Za-z])/g;

/**
 * Whether a text holds a key, or most of one: 16 or more of its characters after `gth_` (95 bits; a name such as
 * `gth_export` is not one), or a whole key without its prefix. The admin CLI refuses such an argument.
 */
export function containsApiKey(text: string): boolean {
  return [...text.matchAll(keyLikeInText)].some(([match]) => (match.startsWith(keyPrefix) ? match.length - keyPrefix.length >= 16 : isWellFormedApiKey(keyPrefix + match)));
}
