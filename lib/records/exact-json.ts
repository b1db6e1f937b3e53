/**
 * JSON numbers a double cannot hold exactly enough: SPEC says a number is stored as sent or refused, "never silent
 * rounding". A double keeps about 16 significant digits, so `4503599627370497.5` parses as the whole number
 * `4503599627370498`. Such a number is refused (422) rather than stored rounded to a whole number; what any binary
 * double does to a decimal fraction (0.1) is JSON's own and not a rounding to a different kind of number.
 *
 * JSON.parse gives a reviver each number's source text (Node 21+; the functions and the tests run on Node 24). The
 * reviver is slow on every value, so it runs only on texts that may hold such a number (below).
 */

/** A JSON number whose text names a fraction but parses to a whole number: refused where it is validated. */
export class InexactNumber {
  constructor(readonly source: string) {}
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

function markInexact(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && Number.isInteger(value) && context?.source !== undefined && !isWholeDecimal(context.source)) {
    return new InexactNumber(context.source);
  }
  return value;
}

/** A number rounded to a whole number, as JSON.parse reads the number's text. */
const roundsToWhole = (source: string) => Number.isInteger(Number(source)) && !isWholeDecimal(source);

/**
 * Nesting at which a body with such a number is refused before its reviver runs: JSON.parse recurses once per level to
 * call a reviver and overflows the stack at about 3,000 levels here, where without one it parses any depth. Values
 * may be nested 16 deep (lib/records/limits.ts), a batch adds three levels around them, so nothing valid comes near.
 */
export const maxRevivedDepth = 1000;

/**
 * A body whose exact numbers could not be checked: nested deeper than {@link maxRevivedDepth}. Refused with a 422 for
 * its nesting (lib/records/limits.ts `nestingIssue`), as any value nested past the limit is.
 */
export class TooDeepToRevive extends Error {
  constructor() {
    super(`The body nests values more than ${maxRevivedDepth} deep`);
  }
}

/** Characters that continue a JSON number: digits, `.`, `e`, `E`, `+`, `-`. */
const continuesNumber = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;

/**
 * One pass over the text outside its strings: whether a number in it rounds to a whole number, and whether its arrays
 * and objects nest deeper than {@link maxRevivedDepth}.
 */
function scanNumbers(text: string): { readonly inexact: boolean; readonly tooDeep: boolean } {
  let inexact = false;
  let tooDeep = false;
  let depth = 0;
  for (let i = 0; i < text.length && !(inexact && tooDeep); i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escaped characters.
      for (i += 1; i < text.length && text.charCodeAt(i) !== 0x22; i += 1) if (text.charCodeAt(i) === 0x5c) i += 1;
    } else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > maxRevivedDepth) tooDeep = true;
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && continuesNumber(text.charCodeAt(end))) end += 1;
      if (!inexact && roundsToWhole(text.slice(i, end))) inexact = true;
      i = end - 1;
    }
  }
  return { inexact, tooDeep };
}

/**
 * JSON.parse, with every number rounded to a whole number replaced by an {@link InexactNumber}. Throws what
 * JSON.parse throws for text that is not JSON, and {@link TooDeepToRevive} for a body that holds such a number and
 * nests deeper than a reviver can walk.
 */
export function parseExactJson(text: string): unknown {
  if (!mayRoundToWhole.test(text)) return JSON.parse(text);
  // The digits may sit in strings, or name numbers a double holds: then nothing needs marking.
  const { inexact, tooDeep } = scanNumbers(text);
  if (!inexact) return JSON.parse(text);
  if (tooDeep) {
    // Not JSON at all stays a malformed body; JSON this deep is refused for its nesting, as shallower nesting is.
    JSON.parse(text);
    throw new TooDeepToRevive();
  }
  return JSON.parse(text, markInexact as (key: string, value: unknown) => unknown);
}
