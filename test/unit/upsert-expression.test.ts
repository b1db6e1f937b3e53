import { upsertRequest } from '../../lib/store/dynamodb-record-store.js';
import { buildUpsertExpression, countOperators, expressionLimits, maxIfMatchVersions, payloadDigest } from '../../lib/store/upsert-expression.js';

const base = { now: '2026-12-04T15:00:00.000Z', writeToken: 'token-1' };

describe('buildUpsertExpression', () => {
  it('puts every field name and value of the client behind a placeholder', () => {
    const hostile = ['name', 'a.b', '#x', ':v', 'SET', 'x = :y', 'constructor', 'ü ñ'];
    const expression = buildUpsertExpression({ ...base, set: hostile.map((n) => [n, `value of ${n}`] as const), unset: ['REMOVE me'] });
    for (const name of [...hostile, 'REMOVE me']) {
      expect(Object.values(expression.ExpressionAttributeNames ?? {})).toContain(`f_${name}`);
      if (!['SET'].includes(name)) {
        expect(expression.UpdateExpression).not.toContain(name);
        expect(expression.ConditionExpression).not.toContain(name);
      }
      expect(Object.values(expression.ExpressionAttributeValues)).not.toContain(name);
    }
    for (const token of `${expression.UpdateExpression} ${expression.ConditionExpression}`.match(/[#:][\w]+/g) ?? []) {
      const map = token.startsWith('#') ? expression.ExpressionAttributeNames : expression.ExpressionAttributeValues;
      expect(Object.hasOwn(map ?? {}, token)).toBe(true);
    }
  });

  it('sets, removes, versions and timestamps in one update', () => {
    const expression = buildUpsertExpression({ ...base, set: [['name', 'acme'], ['size', 5]], unset: ['old'] });
    expect(expression.UpdateExpression).toBe(
      'SET v = if_not_exists(v, :_zero) + :_one, ca = if_not_exists(ca, :_now), ua = :_now, #0=:0, #1=:1, pd = :_pd REMOVE #2',
    );
    // The item's own attributes are named directly: the only names in the map are the client's fields.
    expect(expression.ExpressionAttributeNames).toEqual({ '#0': 'f_name', '#1': 'f_size', '#2': 'f_old' });
    expect(expression.ExpressionAttributeValues).toMatchObject({ ':0': 'acme', ':1': 5, ':_now': base.now });
    // A payload small enough for the exact test stores no digest in the write stamp, only its token: the stamp replaces
    // any digest left by a larger one.
    expect(expression.ExpressionAttributeValues[':_pd']).toBe('.token-1');
  });

  it('sets and removes the index keys it is given, named directly and outside the change test', () => {
    const expression = buildUpsertExpression({
      ...base,
      set: [['name', 'acme']],
      unset: [],
      systemSet: [['lpk', 'dev#account#3'], ['lsk', 'acme']],
      systemRemove: ['apk', 'ask'],
    });
    expect(expression.UpdateExpression).toBe(
      'SET v = if_not_exists(v, :_zero) + :_one, ca = if_not_exists(ca, :_now), ua = :_now, lpk = :_s0, lsk = :_s1, #0=:0, pd = :_pd REMOVE apk, ask',
    );
    expect(expression.ExpressionAttributeValues).toMatchObject({ ':_s0': 'dev#account#3', ':_s1': 'acme' });
    expect(expression.ConditionExpression).toBe('NOT (#0=:0)');
  });

  it('sends no empty names map, which DynamoDB refuses, even for a command without fields', () => {
    expect(buildUpsertExpression({ ...base, set: [], unset: [] })).not.toHaveProperty('ExpressionAttributeNames');
    const key = { workspace: 'dev', model: 'account', id: 'acme' };
    expect(upsertRequest('t', { key, set: [], unset: [], now: base.now })).not.toHaveProperty('ExpressionAttributeNames');
    expect(upsertRequest('t', { key, set: [['name', 'acme']], unset: [], now: base.now }).ExpressionAttributeNames).toEqual({ '#0': 'f_name' });
  });

  it('writes only when something changes', () => {
    const expression = buildUpsertExpression({ ...base, set: [['name', 'acme'], ['size', 5]], unset: ['old'] });
    expect(expression.changeTest).toBe('exact');
    expect(expression.ConditionExpression).toBe('NOT (#0=:0 AND #1=:1 AND attribute_not_exists(#2))');
  });

  it('adds If-Match and If-None-Match conditions', () => {
    const ifMatch = buildUpsertExpression({ ...base, set: [['name', 'acme']], unset: [], ifMatch: [4] });
    expect(ifMatch.ConditionExpression).toBe('v = :_expected AND (NOT (#0=:0))');
    expect(ifMatch.ExpressionAttributeValues[':_expected']).toBe(4);
    const anyOf = buildUpsertExpression({ ...base, set: [['name', 'acme']], unset: [], ifMatch: [4, 7] });
    expect(anyOf.ConditionExpression).toBe('v IN (:_e0, :_e1) AND (NOT (#0=:0))');
    expect([anyOf.ExpressionAttributeValues[':_e0'], anyOf.ExpressionAttributeValues[':_e1']]).toEqual([4, 7]);
    const exists = buildUpsertExpression({ ...base, set: [['name', 'acme']], unset: [], ifMatch: '*' });
    expect(exists.ConditionExpression).toBe('attribute_exists(v) AND (NOT (#0=:0))');
    expect(() => buildUpsertExpression({ ...base, set: [['name', 'acme']], unset: [], ifMatch: [] })).toThrow(/1 to 20/);
    const createOnly = buildUpsertExpression({ ...base, set: [['name', 'acme']], unset: [], createOnly: true });
    expect(createOnly.ConditionExpression).toBe('attribute_not_exists(v)');
    expect(createOnly.changeTest).toBe('create-only');
  });

  it.each([
    ['300 set fields', 300, 0],
    ['300 removed fields', 1, 299],
    ['150 of each', 150, 150],
    ['140 set fields', 140, 0],
  ])('stays within 4 KB and 300 operators with %s, the longest If-Match included', (_label, sets, unsets) => {
    const expression = buildUpsertExpression({
      ...base,
      set: Array.from({ length: sets }, (_, i) => [`field_with_a_long_name_${i}`, i] as const),
      unset: Array.from({ length: unsets }, (_, i) => `removed_${i}`),
      ifMatch: Array.from({ length: maxIfMatchVersions }, (_, i) => 100_000_000_000_000 + i),
    });
    for (const text of [expression.UpdateExpression, expression.ConditionExpression]) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(expressionLimits.maxLength);
    }
    // DynamoDB counts comparators, logical operators and functions in a condition (301 is refused, as measured on
    // DynamoDB Local); the assignments of a SET clause are not operators (400 of them are accepted).
    expect(countOperators(expression.ConditionExpression)).toBeLessThanOrEqual(expressionLimits.maxOperators);
  });

  it('compares every field while the test fits, and the payload digest beyond', () => {
    const small = buildUpsertExpression({ ...base, set: Array.from({ length: 120 }, (_, i) => [`f${i}`, i] as const), unset: [] });
    expect(small.changeTest).toBe('exact');
    const large = buildUpsertExpression({ ...base, set: Array.from({ length: 300 }, (_, i) => [`f${i}`, i] as const), unset: [] });
    expect(large.changeTest).toBe('digest');
    const digest = payloadDigest(Array.from({ length: 300 }, (_, i) => [`f${i}`, i] as const), []);
    // The stamp left by the last changing write starts with its payload's digest.
    expect(large.ConditionExpression).toBe('NOT begins_with(pd, :_pdp)');
    expect(large.ExpressionAttributeValues[':_pdp']).toBe(`${digest}.`);
    expect(large.UpdateExpression).toContain('pd = :_pd');
    expect(large.ExpressionAttributeValues[':_pd']).toBe(`${digest}.token-1`);
  });

  it.each([1, 7, 120, 140])('counts 2n operators for the exact test of %i fields, as DynamoDB does', (n) => {
    const expression = buildUpsertExpression({ ...base, set: Array.from({ length: n - 1 }, (_, i) => [`f${i}`, i] as const), unset: ['gone'] });
    expect(expression.changeTest).toBe('exact');
    expect(countOperators(expression.ConditionExpression)).toBe(2 * n);
  });

  it('counts operators as DynamoDB does for these expressions', () => {
    expect(countOperators('NOT (#0=:0 AND #1=:1 AND attribute_not_exists(#2))')).toBe(6);
    expect(countOperators('v = :_expected AND (NOT begins_with(pd, :_pdp))')).toBe(4);
  });
});

describe('payloadDigest', () => {
  it('ignores the order of fields and removals but not their values', () => {
    expect(payloadDigest([['a', 1], ['b', 2]], ['x', 'y'])).toBe(payloadDigest([['b', 2], ['a', 1]], ['y', 'x']));
    expect(payloadDigest([['a', 1]], [])).not.toBe(payloadDigest([['a', 2]], []));
    expect(payloadDigest([['a', 1]], [])).not.toBe(payloadDigest([['a', 1]], ['b']));
    // Objects inside fields are maps: their keys' order, at any depth, is no change either.
    const nested = (inner: Record<string, unknown>) => payloadDigest([['obj', { a: 1, deep: inner, list: [{ x: 1, y: 2 }] }]], []);
    expect(payloadDigest([['obj', { b: 2, a: 1 }]], [])).toBe(payloadDigest([['obj', { a: 1, b: 2 }]], []));
    expect(nested({ p: 1, q: [1, 2] })).toBe(payloadDigest([['obj', { list: [{ y: 2, x: 1 }], deep: { q: [1, 2], p: 1 }, a: 1 }]], []));
    expect(nested({ p: 1, q: [1, 2] })).not.toBe(nested({ p: 1, q: [2, 1] }));
    expect(payloadDigest([['obj', JSON.parse('{"__proto__":1,"a":2}')]], [])).not.toBe(payloadDigest([['obj', { a: 2 }]], []));
    expect(payloadDigest([['a', '1']], [])).not.toBe(payloadDigest([['a', 1]], []));
  });
});
