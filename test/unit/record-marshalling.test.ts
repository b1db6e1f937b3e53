/**
 * The record store's conversions to and from DynamoDB attribute values are util-dynamodb's marshall and unmarshall,
 * with strings and safe numbers short-cut.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { marshalling, recordFromItem, toRaw } from '../../lib/store/dynamodb-record-store.js';
import { fieldAttributePrefix } from '../../lib/store/upsert-expression.js';

/** What marshall gives, or the message it throws. */
function outcome(convert: () => unknown): unknown {
  try {
    return { value: convert() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('toRaw', () => {
  it('gives what marshall gives, for any JSON values, strings and undefined', () => {
    // The edges of the numbers written directly: the safe-integer bounds, one past them, -0, NaN and the infinities.
    const edges = [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, Number.MIN_SAFE_INTEGER - 1, -0, NaN, Infinity, -Infinity];
    const value = fc.oneof(fc.jsonValue(), fc.string(), fc.constant(undefined), fc.integer(), fc.double(), fc.boolean(), fc.constantFrom(...edges));
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value), (values) => {
        expect(outcome(() => toRaw(values))).toEqual(outcome(() => marshall(values, marshalling)));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes strings, empty ones included, as S and leaves undefined out', () => {
    expect(toRaw({ a: 'x', b: '', c: undefined, d: 1, e: null })).toEqual({ a: { S: 'x' }, b: { S: '' }, d: { N: '1' }, e: { NULL: true } });
  });
});

describe('recordFromItem', () => {
  /** Number strings as DynamoDB may hold them: integers of any size, decimals, exponents. */
  const numberString = fc.oneof(
    fc.bigInt({ min: -(10n ** 38n), max: 10n ** 38n }).map(String),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc.constantFrom('9007199254740991', '9007199254740992', '-9007199254740991', '-9007199254740992', '-0', '1e-130', '1E+125'),
  );
  const attributeValue: fc.Arbitrary<AttributeValue> = fc.letrec<{ value: AttributeValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string().map((S) => ({ S })),
      numberString.map((N) => ({ N })),
      fc.boolean().map((BOOL) => ({ BOOL })),
      fc.constant({ NULL: true as const }),
      fc.uniqueArray(fc.string(), { minLength: 1 }).map((SS) => ({ SS })),
      fc.uniqueArray(fc.integer().map(String), { minLength: 1 }).map((NS) => ({ NS })),
      fc.array(tie('value'), { maxLength: 3 }).map((L) => ({ L })),
      // No `__proto__` key in a map either: unmarshall would set a prototype with it, and the API refuses such keys at
      // any depth (lib/records/payload.ts), so no stored record has one.
      fc.dictionary(fc.string().filter((name) => name !== '__proto__'), tie('value'), { maxKeys: 3 }).map((M) => ({ M })),
    ),
  })).value;

  it('gives each field what unmarshall gives, for any attribute value', () => {
    fc.assert(
      // Not `__proto__` as a field name: unmarshall assigns it, setting a prototype, where a record keeps it as data.
      fc.property(fc.dictionary(fc.string().filter((name) => name !== '__proto__'), attributeValue), (fields) => {
        const item: Record<string, AttributeValue> = { v: { N: '3' }, ca: { S: 'c' }, ua: { S: 'u' }, lsk: { S: 'id' } };
        for (const [name, value] of Object.entries(fields)) item[`${fieldAttributePrefix}${name}`] = value;
        expect(outcome(() => recordFromItem({ workspace: 'w', model: 'm', id: 'id' }, item).fields)).toEqual(outcome(() => unmarshall(fields)));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a number outside the safe integers as a BigInt, as unmarshall does', () => {
    const item = { v: { N: '1' }, [`${fieldAttributePrefix}big`]: { N: '9007199254740993' }, [`${fieldAttributePrefix}n`]: { N: '-0' } };
    const { fields } = recordFromItem({ workspace: 'w', model: 'm', id: 'id' }, item);
    expect(fields.big).toBe(9007199254740993n);
    expect(Object.is(fields.n, -0)).toBe(true);
  });
});
