/** The record store's conversion to DynamoDB attribute values is util-dynamodb's marshall, with strings short-cut. */
import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { marshalling, toRaw } from '../../lib/store/dynamodb-record-store.js';

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
    const value = fc.oneof(fc.jsonValue(), fc.string(), fc.constant(undefined), fc.integer(), fc.double(), fc.boolean());
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
