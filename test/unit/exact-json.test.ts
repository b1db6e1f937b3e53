/** JSON numbers a double would round into a whole number are marked, never stored rounded (SPEC: never silent rounding). */
import { InexactNumber, isWholeDecimal, maxRevivedDepth, parseExactJson, TooDeepToRevive } from '../../lib/records/exact-json.js';

describe('parseExactJson', () => {
  it('marks a fraction that parses to a whole number, wherever it sits', () => {
    const parsed = parseExactJson('{"a": 4503599627370497.5, "b": [1, {"c": 45035996273704975e-1}], "d": "4503599627370497.5"}') as Record<string, unknown>;
    expect(parsed.a).toEqual(new InexactNumber('4503599627370497.5'));
    expect((parsed.b as unknown[])[1]).toEqual({ c: new InexactNumber('45035996273704975e-1') });
    // The digits split by the point, and a value too small for a double, which would be stored as 0.
    expect(parseExactJson('{"a": 450359962737049.65e1, "b": 4503.5996273704965e12, "c": 1e-400}')).toEqual({
      a: new InexactNumber('450359962737049.65e1'),
      b: new InexactNumber('4503.5996273704965e12'),
      c: new InexactNumber('1e-400'),
    });
    // A string of digits is a string.
    expect(parsed.d).toBe('4503599627370497.5');
  });

  it('leaves every number it holds exactly, or as any double holds a fraction, as it is', () => {
    expect(parseExactJson('{"a": 9007199254740991, "b": 4503599627370496.0, "c": 1234567890123456.7, "d": 0.30000000000000004, "e": 12.5e1}')).toEqual({
      a: 9007199254740991,
      b: 4503599627370496,
      c: 1234567890123456.8,
      d: 0.30000000000000004,
      e: 125,
    });
  });

  it('tells a whole decimal from a fraction, its exponent applied', () => {
    for (const text of ['7', '7.000', '-0.0', '12.5e1', '1250e-1', '5.', '1e3', '0e-5']) expect([text, isWholeDecimal(text)]).toEqual([text, true]);
    for (const text of ['0.5', '.5', '2.5', '1e-400', '4503599627370497.5', '45035996273704975e-1', '1251e-1']) expect([text, isWholeDecimal(text)]).toEqual([text, false]);
  });

  it('parses a body nested far deeper than any valid one, and refuses it for its depth only when it holds such a number', () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    // 16 digits in a string, or a number a double holds: nothing to mark, so the deep body parses as it is (and is
    // refused later, by field, for its nesting).
    expect(() => parseExactJson(`{"s":"1234567890123456","n":1234567890123456,"v":${nested(10_000)}}`)).not.toThrow();
    // A number to mark beside nesting a reviver cannot walk (it overflowed the stack, a 400 "not valid JSON").
    expect(() => parseExactJson(`{"n":4503599627370497.5,"v":${nested(10_000)}}`)).toThrow(TooDeepToRevive);
    expect(() => parseExactJson(`{"n":4503599627370497.5,"v":${nested(maxRevivedDepth + 1)}}`)).toThrow(TooDeepToRevive);
    expect(parseExactJson(`{"n":4503599627370497.5,"v":${nested(maxRevivedDepth - 1)}}`)).toMatchObject({ n: new InexactNumber('4503599627370497.5') });
    // Text that is not JSON stays a syntax error, however deep.
    expect(() => parseExactJson(`{"n":4503599627370497.5,"v":${nested(10_000)}`)).toThrow(SyntaxError);
  });
});
