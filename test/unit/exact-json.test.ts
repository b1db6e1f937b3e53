/** JSON numbers a double would round into a whole number are marked, never stored rounded (SPEC: never silent rounding). */
import fc from 'fast-check';
import { InexactNumber, isWholeDecimal, maxWalkedDepth, parseExactJson, TooDeepToWalk } from '../../lib/records/exact-json.js';

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
    expect(() => parseExactJson(`{"n":4503599627370497.5,"v":${nested(10_000)}}`)).toThrow(TooDeepToWalk);
    expect(() => parseExactJson(`{"n":4503599627370497.5,"v":${nested(maxWalkedDepth + 1)}}`)).toThrow(TooDeepToWalk);
    expect(parseExactJson(`{"n":4503599627370497.5,"v":${nested(maxWalkedDepth - 1)}}`)).toMatchObject({ n: new InexactNumber('4503599627370497.5') });
    // Text that is not JSON stays a syntax error, however deep.
    expect(() => parseExactJson(`{"n":4503599627370497.5,"v":${nested(10_000)}`)).toThrow(SyntaxError);
  });

  it('marks exactly the numbers that a reviver given their source text marks, in any JSON (JSON.parse source text access)', () => {
    // The reviver this replaced, as the reference: it saw every number with its text.
    const reviver = (_key: string, value: unknown, context?: { source?: string }) =>
      typeof value === 'number' && Number.isInteger(value) && context?.source !== undefined && !isWholeDecimal(context.source) ? new InexactNumber(context.source) : value;
    const numberText = fc.constantFrom('0', '-0', '1.5', '0.1', '1E+2', '1e16', '4503599627370497.5', '4503599627370498', '-4503599627370497.25', '1e-400', '1.5E-400', '1e-130', '123456789012345.5', '1234567890123456.5', '9007199254740993', '1.0000000000000001', '450359962737049.65e1');
    const leaf = fc.oneof(numberText, fc.string().map((text) => JSON.stringify(text)), fc.constantFrom('true', 'null', '"4503599627370497.5"', '"\\"1.0000000000000001"'));
    const { value } = fc.letrec<{ value: string }>((tie) => ({
      value: fc.oneof(
        { maxDepth: 4 },
        leaf,
        fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(', ')}]`),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', '1', '__proto__', 'é'), tie('value')), { maxLength: 4 }).map((entries) => `{${entries.map(([key, item]) => `${JSON.stringify(key)}: ${item}`).join(',')}}`),
      ),
    }));
    fc.assert(
      fc.property(value, (text) => {
        expect(parseExactJson(text)).toStrictEqual(JSON.parse(text, reviver as (key: string, value: unknown) => unknown));
      }),
      { numRuns: 3000 },
    );
  });
});
