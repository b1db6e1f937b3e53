/**
 * JSON numbers a double cannot hold exactly enough: SPEC says a number is stored as sent or refused, "never silent
 * rounding". A double keeps about 16 significant digits, so `4503599627370497.5` parses as the whole number
 * `4503599627370498`. Such a number is refused (422) rather than stored rounded to a whole number; what any binary
 * double does to a decimal fraction (0.1) is JSON's own and not a rounding to a different kind of number.
 *
 * A scan of the text outside its strings finds such numbers, and only a text that holds one is parsed a second time,
 * with each of them replaced by a marked string, which the walk after it turns into an {@link InexactNumber}. (A
 * reviver, which JSON.parse gives each number's source text, did it before: it ran on every value of the body, and made
 * a 4 MB batch with one such number take 2.2 s to parse, where the body takes 20 ms.)
 */
import { randomUUID } from 'node:crypto';

/** A JSON number whose text names a fraction but parses to a whole number: refused where it is validated. */
export class InexactNumber {
  constructor(readonly source: string) {}
}

/**
 * Whether a parsed JSON value is an object (not an array, not null): an {@link InexactNumber} stands for a number, so it
 * is none, though JavaScript calls it one (a body that is only such a number is no object of fields).
 */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof InexactNumber);
}

/** A non-zero number nearer zero than DynamoDB stores (its smallest is 1e-130 in magnitude). */
export const tooSmallNumberIssue = 'numbers must be 0 or at least 1e-130 in magnitude';

/**
 * Why a number whose text names a fraction parsed to a whole number is refused: too small for a double at all (`1e-400`
 * is 0), said as any number under DynamoDB's smallest is; else too precise (`4503599627370497.5`).
 */
export function inexactNumberIssue(source: string): string {
  return Number(source) === 0
    ? tooSmallNumberIssue
    : 'is not a whole number but would be stored as one (a number holds about 16 significant digits); send it as a string';
}

/** Whether a decimal number's text names a whole number: no non-zero digit after its point, its exponent applied. */
export function isWholeDecimal(text: string): boolean {
  const [mantissa = '', exponent = '0'] = text.replace(/^[-+]/, '').toLowerCase().split('e');
  const [whole = '', fraction = ''] = mantissa.split('.');
  const shift = Number(exponent);
  // The digits that stay after the point once the exponent has moved it.
  const after = shift >= 0 ? fraction.slice(shift) : whole.slice(Math.max(whole.length + shift, 0)) + fraction;
  return !/[1-9]/.test(after);
}

/**
 * Texts that may hold such a number: 16 digits, a point anywhere among them (`450359962737049.65e1`), or an exponent
 * of three digits below zero (`1e-400` is 0).
 */
const mayRoundToWhole = /(?:\d\.?){16}|[eE]-\d{3}/;

/** A number rounded to a whole number, as JSON.parse reads the number's text. */
const roundsToWhole = (source: string) => Number.isInteger(Number(source)) && !isWholeDecimal(source);

/**
 * Nesting at which a body with such a number is refused before it is walked: the walk recurses once per level, and
 * values may be nested 16 deep (lib/records/limits.ts), a batch adds three levels around them, so nothing valid comes
 * near.
 */
export const maxWalkedDepth = 1000;

/**
 * A body whose exact numbers could not be checked: nested deeper than {@link maxWalkedDepth}. Refused with a 422 for
 * its nesting (lib/records/limits.ts `nestingIssue`), as any value nested past the limit is.
 */
export class TooDeepToWalk extends Error {
  constructor() {
    super(`The body nests values more than ${maxWalkedDepth} deep`);
  }
}

/** Characters that continue a JSON number: digits, `.`, `e`, `E`, `+`, `-`. */
const continuesNumber = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;

/**
 * One pass over the text outside its strings: where its numbers that round to a whole number are (start and end), and
 * whether its arrays and objects nest deeper than {@link maxWalkedDepth}.
 */
function scanNumbers(text: string): { readonly inexact: readonly (readonly [number, number])[]; readonly tooDeep: boolean } {
  const inexact: [number, number][] = [];
  let tooDeep = false;
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escaped characters.
      for (i += 1; i < text.length && text.charCodeAt(i) !== 0x22; i += 1) if (text.charCodeAt(i) === 0x5c) i += 1;
    } else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > maxWalkedDepth) tooDeep = true;
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      let exponent = false;
      for (let d = c; end < text.length && continuesNumber((d = text.charCodeAt(end))); end += 1) exponent ||= d === 0x65 || d === 0x45;
      // Fewer than 16 characters and no exponent: at most 15 digits, which a double holds exactly (mayRoundToWhole).
      if ((end - i >= 16 || exponent) && roundsToWhole(text.slice(i, end))) inexact.push([i, end]);
      i = end - 1;
    }
  }
  return { inexact, tooDeep };
}

/**
 * JSON.parse, with every number rounded to a whole number replaced by an {@link InexactNumber}. Throws what
 * JSON.parse throws for text that is not JSON, and {@link TooDeepToWalk} for a body that holds such a number and
 * nests deeper than the walk that marks them goes.
 */
export function parseExactJson(text: string): unknown {
  if (!mayRoundToWhole.test(text)) return JSON.parse(text);
  // The digits may sit in strings, or name numbers a double holds: then nothing needs marking.
  const { inexact, tooDeep } = scanNumbers(text);
  // Parsed as it is first: text that is not JSON throws JSON.parse's own error, and only JSON goes on. (In text that is
  // not JSON, a number could sit where a string is valid and a number is not, as an object's key.)
  const parsed: unknown = JSON.parse(text);
  if (inexact.length === 0) return parsed;
  // JSON this deep is refused for its nesting, as shallower nesting is.
  if (tooDeep) throw new TooDeepToWalk();
  // A mark no client can put in a string of its own: random for each body.
  const mark = `\u0000inexact ${randomUUID()} `;
  let marked = '';
  let from = 0;
  for (const [start, end] of inexact) {
    marked += text.slice(from, start) + JSON.stringify(mark + text.slice(start, end));
    from = end;
  }
  return restoreInexact(JSON.parse(marked + text.slice(from)), mark);
}

/** The parsed value with each marked string turned into the {@link InexactNumber} of the number it replaced. */
function restoreInexact(value: unknown, mark: string): unknown {
  if (typeof value === 'string') return value.startsWith(mark) ? new InexactNumber(value.slice(mark.length)) : value;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) value[i] = restoreInexact(value[i], mark);
    return value;
  }
  // JSON.parse makes every key an own property, `__proto__` included, so each is set as the plain name it is.
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const restored = restoreInexact(object[key], mark);
    if (restored !== object[key]) object[key] = restored;
  }
  return value;
}
