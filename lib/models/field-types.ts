/**
 * Field types and coercion (SPEC section 4, "Request bodies"). Form values arrive as strings and are coerced to the
 * declared type; JSON values must already have the type (a datetime is normalised to a UTC ISO string either way).
 */
import { InexactNumber, inexactNumberIssue, isWholeDecimal, parseExactJson, TooDeepToWalk } from '../records/exact-json.js';
import { nestingIssue } from '../records/limits.js';
import type { FieldType } from './model-definition.js';

export type BodySource = 'json' | 'form';
export type Coercion = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issue: string };

/**
 * An e-mail address as mail systems take it (RFC 5322's dot-atom on both sides of one `@`, RFC 6531's non-ASCII
 * characters included): the local part is runs of letters, digits and ``!#$%&'*+/=?^_`{|}~-`` joined by single dots;
 * the domain is two or more labels of letters, digits and inner hyphens, each at most 63 characters. Non-ASCII letters,
 * marks and digits count (`élodie@exämple.com`, `user@例え.jp`); nothing else outside ASCII does: no blank, control,
 * zero-width or text-direction character and no symbol, so an id cannot look like another address than it is. Not
 * accepted, though RFC 5322 has them: quoted local parts (`"a b"@x.io`), comments and address literals
 * (`a@[192.0.2.1]`), which no customer record needs and which turn ids into something other than an address
 * (`mailto:a@x.io` was an id before this check).
 */
const nonAsciiWordCharacter = String.raw`(?![\x00-\x7f])[\p{L}\p{M}\p{N}]`;
const localCharacter = String.raw`(?:[\w!#$%&'*+/=?^\x60{|}~-]|${nonAsciiWordCharacter})`;
const labelCharacter = String.raw`(?:[A-Za-z0-9]|${nonAsciiWordCharacter})`;
const label = String.raw`${labelCharacter}(?:(?:${labelCharacter}|-)*${labelCharacter})?`;
const emailPattern = new RegExp(String.raw`^${localCharacter}+(?:\.${localCharacter}+)*@${label}(?:\.${label})+$`, 'u');
// Each digit has one place to go: `\d+\.?\d*` let a run of digits split between its two parts in every way, so a long
// run followed by a character the pattern refuses took time growing with the square of its length (100,000 digits, 10 s).
const numberPattern = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const datetimePattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const ok = (value: unknown): Coercion => ({ ok: true, value });
const fail = (issue: string): Coercion => ({ ok: false, issue });

export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && emailPattern.test(value) && value.slice(value.indexOf('@') + 1).split('.').every((part) => part.length <= 63);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function coerceDatetime(value: unknown): Coercion {
  if (typeof value !== 'string') return fail('must be an ISO 8601 date-time string');
  const text = value.trim();
  const match = datetimePattern.exec(text);
  if (!match) return fail('must be an ISO 8601 date-time, e.g. 2026-12-04T15:00:00Z');
  // Date silently rolls an impossible day over (2026-02-30 becomes March 2), with or without a time, so the day is
  // checked against its month first. A time and an offset out of range make Date invalid, which is checked below.
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return fail('is not a valid calendar date');
  // A date-time without an offset is taken as UTC, never as the server's local time. Its fraction is cut to milliseconds
  // here: Date reads one of more than nine digits as if its leading zeros were not there (.0500000000 as .5).
  // ISO 8601 allows a comma before the fraction as well as a point (and prefers the comma); Date reads only the point.
  const cut = text.replace(/[.,](\d{1,3})\d*/, '.$1');
  const withZone = match[4] !== undefined && match[7] === undefined ? `${cut}Z` : cut;
  const date = new Date(withZone.replace(' ', 'T'));
  if (Number.isNaN(date.getTime())) return fail('is not a valid date-time');
  // An offset can carry 0000-01-01 or 9999-12-31 into another year; toISOString would write it as -000001 or +010000,
  // which this pattern (and most clients) would not read back.
  const iso = date.toISOString();
  if (iso.length !== 24) return fail('is outside the years 0000 to 9999 in UTC');
  return ok(iso);
}

function parseJson(text: string): Coercion {
  try {
    return ok(parseExactJson(text));
  } catch (error) {
    return fail(error instanceof TooDeepToWalk ? nestingIssue : 'must be a JSON document');
  }
}

/**
 * Coerces one value to a declared type, or says why it cannot. A form `json` field whose text is `null` comes out as
 * null, which the payload takes as removing the field, as JSON null does (lib/records/payload.ts).
 */
export function coerceFieldValue(value: unknown, type: FieldType, source: BodySource): Coercion {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? ok(value) : fail('must be a string');
    case 'email': {
      if (typeof value !== 'string') return fail('must be an e-mail address');
      const trimmed = value.trim();
      return isEmailAddress(trimmed) ? ok(trimmed) : fail('must be an e-mail address');
    }
    case 'number': {
      if (source === 'form' && typeof value === 'string') {
        const text = value.trim();
        if (!numberPattern.test(text)) return fail('must be a number');
        const number = Number(text);
        // A fraction that a double cannot hold beside so large an integer part rounds to a whole number
        // (4503599627370497.5 to 4503599627370498): refused, never stored rounded (SPEC: never silent rounding).
        if (Number.isInteger(number) && !isWholeDecimal(text)) return fail(inexactNumberIssue(text));
        return ok(number);
      }
      if (typeof value === 'number') return ok(value);
      // A JSON number the body's parser marked as one a double cannot hold (lib/records/exact-json.ts): a number, but
      // refused for its precision, as in an undeclared field.
      return fail(value instanceof InexactNumber ? inexactNumberIssue(value.source) : 'must be a number');
    }
    case 'boolean': {
      if (source === 'form' && typeof value === 'string') {
        // Trimmed, as numbers, e-mail addresses and date-times are: a padded CSV cell is still `true`.
        const text = value.trim();
        if (text === 'true') return ok(true);
        if (text === 'false') return ok(false);
        return fail('must be true or false');
      }
      return typeof value === 'boolean' ? ok(value) : fail('must be a boolean');
    }
    case 'datetime':
      return coerceDatetime(value);
    case 'json': {
      if (source === 'form') {
        // A form value is JSON text; a repeated key gives several, each parsed (`-d j=1 -d j=2` is [1, 2], as `-d j=[1,2]` is).
        if (typeof value === 'string') return parseJson(value);
        if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
          const items: unknown[] = [];
          for (const item of value as string[]) {
            const parsed = parseJson(item);
            if (!parsed.ok) return parsed;
            items.push(parsed.value);
          }
          return ok(items);
        }
      }
      return ok(value);
    }
  }
}
