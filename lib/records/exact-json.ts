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

export const inexactNumberIssue = 'has more digits than a number can hold exactly; send it as a string';

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

/** JSON.parse, with every number rounded to a whole number replaced by an {@link InexactNumber}. */
export function parseExactJson(text: string): unknown {
  return mayRoundToWhole.test(text) ? JSON.parse(text, markInexact as (key: string, value: unknown) => unknown) : JSON.parse(text);
}
