import { MissingUniqueFieldError, RecordTooLargeError, ValidationError } from '../../lib/records/errors.js';
import { fieldNameIssue, validateUpsertPayload, valueIssue } from '../../lib/records/payload.js';
import { standardModels } from '../../lib/models/standard-models.js';
import { inexactNumberIssue, parseExactJson } from '../../lib/records/exact-json.js';

const account = standardModels.account!;
const customer = standardModels.customer!;
const json = (set: Record<string, unknown>, unset: string[] = []) => ({ source: 'json' as const, set: Object.entries(set), unset });

function issuesOf(run: () => unknown): { field: string; issue: string }[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return [...(error.details ?? [])];
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('field names', () => {
  it.each([['name'], ['a.b'], ['#x'], ['constructor'], ['prototype'], ['x'.repeat(255)], ['é'.repeat(127)]])('accepts %s', (name) => {
    expect(fieldNameIssue(name)).toBeUndefined();
  });
  it.each([[''], ['_x'], ['__proto__'], ['a\nb'], ['\u0085'], ['x'.repeat(256)], ['é'.repeat(128)], ['\ud800']])('refuses %j', (name) => {
    expect(fieldNameIssue(name)).toEqual(expect.any(String));
  });
});

describe('values', () => {
  it('accepts what JSON can carry within the limits', () => {
    expect(valueIssue({ a: [1, 'two', true, null, { b: 2.5 }] })).toBeUndefined();
    expect(valueIssue(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect(valueIssue(-Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect(valueIssue(1e300)).toBe('integers must be within ±(2^53 - 1); send larger values as strings');
    expect(valueIssue(0.1)).toBeUndefined();
  });
  it('refuses unsafe integers, non-finite numbers, lone surrogates and __proto__ keys', () => {
    expect(valueIssue(2 ** 53)).toMatch(/2\^53/);
    expect(valueIssue(Infinity)).toMatch(/finite/);
    expect(valueIssue(NaN)).toMatch(/finite/);
    expect(valueIssue('\udc00x')).toMatch(/Unicode/);
    expect(valueIssue(JSON.parse('{"__proto__": 1}'))).toMatch(/__proto__/);
  });
  it('allows 16 levels of nesting and refuses 17', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    expect(valueIssue(nest(16))).toBeUndefined();
    expect(valueIssue(nest(17))).toMatch(/nested/);
  });
});

describe('validateUpsertPayload', () => {
  it('normalizes the unique field into the id and keeps the rest in order', () => {
    const result = validateUpsertPayload(account, json({ size: '5', name: '  Acme\u0301 ', tags: ['x'] }));
    expect(result.id).toBe('Acmé');
    expect(result.set).toEqual([['size', '5'], ['name', 'Acmé'], ['tags', ['x']]]);
  });

  it('lower-cases and trims a customer email and normalizes the account link', () => {
    const result = validateUpsertPayload(customer, json({ email: ' Don@SC.com ', account: ' Sterling Cooper ' }));
    expect(result.id).toBe('don@sc.com');
    expect(Object.fromEntries(result.set)).toEqual({ email: 'don@sc.com', account: 'Sterling Cooper' });
  });

  it('names the precision, not the type, for a too-precise number in a declared number field, as in an undeclared one', () => {
    const plan = { ...account, fields: { ...account.fields, price: { type: 'number' as const } } };
    const body = parseExactJson('{"name":"acme","price":4503599627370497.5,"other":4503599627370497.5}') as Record<string, unknown>;
    expect(issuesOf(() => validateUpsertPayload(plan, json(body)))).toEqual([
      { field: 'price', issue: 'is not a whole number but would be stored as one (a number holds about 16 significant digits); send it as a string' },
      { field: 'other', issue: 'is not a whole number but would be stored as one (a number holds about 16 significant digits); send it as a string' },
    ]);
  });

  it('requires the unique field, and names every other bad field beside it', () => {
    expect(() => validateUpsertPayload(account, json({ size: 1 }))).toThrow(MissingUniqueFieldError);
    const plan = { ...account, fields: { ...account.fields, price: { type: 'number' as const } } };
    const missingUnique = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        if (error instanceof MissingUniqueFieldError) return error.details;
        throw error;
      }
      throw new Error('expected a MissingUniqueFieldError');
    };
    expect(missingUnique(() => validateUpsertPayload(plan, json({ price: 'ten', _secret: 1, ok: 2 })))).toEqual([
      { field: 'name', issue: 'is required' },
      { field: 'price', issue: 'must be a number' },
      { field: '_secret', issue: expect.any(String) },
    ]);
    // A link field's own issue too, found as it is normalized.
    expect(missingUnique(() => validateUpsertPayload(standardModels.customer!, json({ title: 'x', account: '   ' })))).toEqual([
      { field: 'email', issue: 'is required' },
      { field: 'account', issue: expect.any(String) },
    ]);
  });

  it('refuses to remove the unique field, and a field both set and removed', () => {
    expect(issuesOf(() => validateUpsertPayload(account, json({ a: 1 }, ['name'])))).toEqual([{ field: 'name', issue: 'the unique field cannot be removed' }]);
    expect(issuesOf(() => validateUpsertPayload(account, { source: 'form', set: [['name', 'x'], ['a', '1']], unset: ['a'] }))).toEqual([
      { field: 'a', issue: 'field is both set and removed in one payload' },
    ]);
  });

  it('collects every issue in one error', () => {
    const issues = issuesOf(() => validateUpsertPayload(customer, json({ email: 'nope', _x: 1, '': 2, n: 2 ** 60 })));
    expect(issues.map((i) => i.field).sort()).toEqual(['', '_x', 'email', 'n']);
  });

  it('counts set and removed fields against the 300-field limit', () => {
    const set = Object.fromEntries([['name', 'x'], ...Array.from({ length: 200 }, (_, i) => [`s${i}`, i])]);
    const unset = Array.from({ length: 99 }, (_, i) => `u${i}`);
    expect(() => validateUpsertPayload(account, json(set, unset))).not.toThrow();
    expect(() => validateUpsertPayload(account, json(set, [...unset, 'one-more']))).toThrow(ValidationError);
  });

  it('refuses a unique value that is an object, empty, or over 1,024 bytes', () => {
    for (const name of [{ a: 1 }, '  ', 'x'.repeat(1025), 'a\tb', 42]) {
      expect(issuesOf(() => validateUpsertPayload(account, json({ name })))[0]!.field).toBe('name');
    }
  });

  it('refuses a record over 350 KB before it reaches the database', () => {
    expect(() => validateUpsertPayload(account, json({ name: 'x', blob: 'x'.repeat(351 * 1024) }))).toThrow(RecordTooLargeError);
  });
});
