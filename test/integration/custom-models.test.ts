/** SPEC section 4, custom models: define, read, list, change and delete models; typed fields and coercion. */
import { maxResponseBytes, responseBytes } from '../../lib/records/response-size.js';
import { call, errorCode, workspaceWithKey } from '../support/api-client.js';

describe('custom models', () => {
  let token: string;
  beforeAll(async () => {
    ({ token } = await workspaceWithKey(['records:read', 'records:write', 'models:write']));
  });
  const as = (method: string, path: string, json?: unknown, headers?: Record<string, string>) =>
    call(method, path, { token, ...(json !== undefined ? { json } : {}), ...(headers ? { headers } : {}) });

  it('defines a model, lists it with the standard ones, and stores typed records', async () => {
    const defined = await as('PUT', '/models/subscription', {
      unique_field: 'external_id',
      fields: { price: { type: 'number' }, renews_at: { type: 'datetime' }, active: { type: 'boolean' }, owner: { type: 'email' }, meta: { type: 'json' } },
    });
    expect(defined.status).toBe(201);
    expect(defined.body).toMatchObject({
      name: 'subscription',
      unique_field: 'external_id',
      standard: false,
      fields: { external_id: { type: 'string' }, price: { type: 'number' }, renews_at: { type: 'datetime' } },
    });
    const models = await as('GET', '/models');
    expect(models.status).toBe(200);
    expect(models.body.models.map((m: { name: string; standard: boolean }) => [m.name, m.standard])).toEqual([
      ['account', true],
      ['customer', true],
      ['subscription', false],
    ]);
    expect(models.body.models[0]).toMatchObject({ name: 'account', unique_field: 'name', fields: { name: { type: 'string' } } });

    // Form strings are coerced to the declared types; undeclared fields are stored as given.
    const form = await call('POST', '/models/subscription/records', {
      token,
      form: 'external_id=sub-1&price=49.5&renews_at=2027-01-01T10:00:00%2B01:00&active=true&owner=Ann@X.io&meta=%7B%22a%22%3A1%7D&note=hi',
    });
    expect(form.status).toBe(201);
    expect(form.body.fields).toEqual({
      external_id: 'sub-1',
      price: 49.5,
      renews_at: '2027-01-01T09:00:00.000Z',
      active: true,
      owner: 'Ann@X.io',
      meta: { a: 1 },
      note: 'hi',
    });
    const json = await as('POST', '/models/subscription/records', { external_id: 'sub-2', price: 10, active: false, renews_at: '2027-02-01' });
    expect(json.status).toBe(201);
    expect(json.body.fields).toMatchObject({ price: 10, active: false, renews_at: '2027-02-01T00:00:00.000Z' });
    expect((await as('GET', '/models/subscription/records/sub-1')).body.fields.price).toBe(49.5);
  });

  it('answers a value that cannot be coerced with a 422 naming the field, and stores nothing', async () => {
    // Its own model (the one above has records, so its definition could not be changed by this test): it runs alone too.
    expect((await as('PUT', '/models/coerced', { unique_field: 'external_id', fields: { price: { type: 'number' }, active: { type: 'boolean' } } })).status).toBe(201);
    const response = await call('POST', '/models/coerced/records', { token, form: 'external_id=sub-3&price=cheap&active=maybe' });
    expect(response.status).toBe(422);
    expect(response.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['active', 'price']);
    expect((await as('POST', '/models/coerced/records', { external_id: 'sub-3', price: '12' })).status).toBe(422);
    expect((await as('GET', '/models/coerced/records/sub-3')).status).toBe(404);
  });

  it('reads a form json field as JSON: each value of a repeated key, and null as removing the field', async () => {
    expect((await as('PUT', '/models/form_json', { unique_field: 'k', fields: { j: { type: 'json' }, on: { type: 'boolean' } } })).status).toBe(201);
    const form = (body: string) => call('POST', '/models/form_json/records', { token, form: body });
    expect((await form('k=a&j=1&j=%7B%22x%22%3A2%7D&on=%20true%20')).body.fields).toEqual({ k: 'a', j: [1, { x: 2 }], on: true });
    // `null` removes j, as JSON null does; a JSON body can never store a top-level null, and neither can a form.
    const removed = await form('k=a&j=null');
    expect([removed.status, removed.body.fields]).toEqual([200, { k: 'a', on: true }]);
    expect((await as('GET', '/models/form_json/records/a')).body.fields).toEqual({ k: 'a', on: true });
    // null and _unset of one field in one payload agree, so they are one removal, not a conflict.
    expect((await form('k=b&j=5')).status).toBe(201);
    expect((await form('k=b&j=null&_unset=j')).body.fields).toEqual({ k: 'b' });
  });

  it('refuses a JSON number a double would round into a whole number, in a record, a nested value or a batch item', async () => {
    const json = (path: string, text: string) => call('POST', path, { token, raw: text, headers: { 'Content-Type': 'application/json' } });
    const single = await json('/models/account/records', '{"name": "inexact-co", "n": 4503599627370497.5}');
    expect([single.status, single.body.error.details]).toEqual([422, [{ field: 'n', issue: 'is not a whole number but would be stored as one (a number holds about 16 significant digits); send it as a string' }]]);
    expect((await json('/models/account/records', '{"name": "inexact-co", "deep": {"x": [45035996273704975e-1]}}')).status).toBe(422);
    // One too small for a double (it parses as 0) is refused in the words of any number under DynamoDB's smallest.
    const tiny = await json('/models/account/records', '{"name": "inexact-co", "n": 1e-400}');
    expect([tiny.status, tiny.body.error.details]).toEqual([422, [{ field: 'n', issue: 'numbers must be 0 or at least 1e-130 in magnitude' }]]);
    expect((await as('GET', '/models/account/records/inexact-co')).status).toBe(404);
    const batch = await json('/models/account/batch', '{"records": [{"name": "inexact-a", "n": 4503599627370497.5}, {"name": "inexact-b", "n": 4503599627370496}]}');
    expect(batch.body.results.map((r: { status: number }) => r.status)).toEqual([422, 201]);
    // Such a number where an object belongs is no object: not a record missing its unique field, not a definition
    // with a property of the marker's.
    const whole = await json('/models/account/records', '4503599627370497.5');
    expect([whole.status, errorCode(whole)]).toEqual([400, 'malformed_body']);
    const item = await json('/models/account/batch', '{"records": [1e-400]}');
    expect(item.body.results[0]).toMatchObject({ status: 422, error: { details: [{ field: 'records[0]', issue: 'must be an object' }] } });
    // Nor is its text taken for the unique value of a model keyed by a field named as the marker's own property.
    expect((await as('PUT', '/models/keyed_by_source', { unique_field: 'source' })).status).toBe(201);
    const named = await json('/models/keyed_by_source/batch', '{"records": [4503599627370497.5]}');
    expect(named.body.results).toEqual([{ op: 'upsert', index: 0, status: 422, error: expect.objectContaining({ code: 'validation_failed' }) }]);
    expect((await as('DELETE', '/models/keyed_by_source')).status).toBe(204);
    const definition = await call('PUT', '/models/inexact_m', { token, raw: '{"unique_field": "k", "fields": 4503599627370497.5}', headers: { 'Content-Type': 'application/json' } });
    expect([definition.status, definition.body.error.details]).toEqual([422, [{ field: 'fields', issue: 'must be an object of field name to {"type": ...}' }]]);
  });

  it('lets a workspace add typed fields to a standard model, but not change its unique field or standard fields', async () => {
    const extended = await as('PUT', '/models/account', { fields: { employees: { type: 'number' } } });
    expect(extended.status).toBe(200);
    expect(extended.body).toMatchObject({ standard: true, unique_field: 'name', fields: { employees: { type: 'number' }, name: { type: 'string' } } });
    const record = await call('POST', '/models/account/records', { token, form: 'name=Typed Co&employees=250' });
    expect(record.body.fields.employees).toBe(250);
    const rekey = await as('PUT', '/models/account', { unique_field: 'domain' });
    expect(rekey.status).toBe(409);
    expect(errorCode(rekey)).toBe('standard_model');
    expect((await as('PUT', '/models/customer', { fields: { email: { type: 'string' } } })).status).toBe(409);
    const del = await as('DELETE', '/models/customer');
    expect(del.status).toBe(409);
    expect(errorCode(del)).toBe('standard_model');
  });

  it('refuses to delete or re-key a model that has records, and deletes an empty one', async () => {
    expect((await as('PUT', '/models/plan', { unique_field: 'code' })).status).toBe(201);
    expect((await as('POST', '/models/plan/records', { code: 'gold' })).status).toBe(201);
    const busy = await as('DELETE', '/models/plan');
    expect(busy.status).toBe(409);
    expect(errorCode(busy)).toBe('model_not_empty');
    expect((await as('PUT', '/models/plan', { unique_field: 'slug' })).status).toBe(409);
    // Nor may the unique field's type change: as an email, the stored id "gold" would no longer be a valid id.
    const retyped = await as('PUT', '/models/plan', { unique_field: 'code', fields: { code: { type: 'email' } } });
    expect(retyped.status).toBe(409);
    expect(errorCode(retyped)).toBe('model_not_empty');
    expect((await as('GET', '/models/plan')).body.fields.code).toEqual({ type: 'string' });
    expect((await as('GET', '/models/plan/records/gold')).status).toBe(200);
    // Changing other fields' types is allowed: it applies to later writes.
    expect((await as('PUT', '/models/plan', { unique_field: 'code', fields: { seats: { type: 'number' } } })).status).toBe(200);
    expect((await as('DELETE', '/models/plan/records/gold')).status).toBe(204);
    expect((await as('PUT', '/models/plan', { unique_field: 'slug' })).status).toBe(200);
    expect((await as('DELETE', '/models/plan')).status).toBe(204);
    expect((await as('GET', '/models/plan')).status).toBe(404);
    const gone = await as('POST', '/models/plan/records', { slug: 'x' });
    expect(gone.status).toBe(404);
    expect(errorCode(gone)).toBe('model_not_found');
    expect((await as('DELETE', '/models/plan')).status).toBe(404);
  });

  it.each([
    ['an invalid model name', '/models/Plan', { unique_field: 'id' }, 422],
    ['a name over 63 characters', `/models/p${'x'.repeat(63)}`, { unique_field: 'id' }, 422],
    ['no unique field', '/models/thing', { fields: {} }, 422],
    ['an unknown type', '/models/thing', { unique_field: 'id', fields: { n: { type: 'integer' } } }, 422],
    ['a unique field of type number', '/models/thing', { unique_field: 'id', fields: { id: { type: 'number' } } }, 422],
    ['a reserved field name', '/models/thing', { unique_field: '_id' }, 422],
    ['an unknown property', '/models/thing', { unique_field: 'id', indexes: [] }, 422],
  ])('refuses %s', async (_label, path, body, status) => {
    const response = await as('PUT', path, body);
    expect(response.status).toBe(status);
    expect(errorCode(response)).toBe('validation_failed');
    expect((await as('GET', '/models/thing')).status).toBe(404);
  });

  it('answers a definition of thousands of fields or unknown properties with a short 422, not one issue each', async () => {
    // 37,500 of them made a 4.5 MB answer to a 300 KB request; past about 420 KB of request the answer passed Lambda's
    // 6 MB and was a 502.
    const fields = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`f${i}`, 0]));
    const tooMany = await as('PUT', '/models/thing', { unique_field: 'id', fields });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.error.details).toEqual([{ field: 'fields', issue: "at most 300 fields besides the unique field and a standard model's own" }]);
    const unknown = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`p${i}`, 0]));
    const strange = await as('PUT', '/models/thing', { unique_field: 'id', ...unknown });
    expect(strange.status).toBe(422);
    expect(strange.body.error.details).toEqual([{ field: '*', issue: '20000 unknown properties; use unique_field and fields' }]);
    // Up to ten are each named; eleven are counted.
    const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`p${i}`, 0]));
    const few = await as('PUT', '/models/thing', { unique_field: 'id', ...ten });
    expect(few.body.error.details.map((d: { field: string }) => d.field)).toEqual(Object.keys(ten));
    const eleven = await as('PUT', '/models/thing', { unique_field: 'id', ...ten, p10: 0 });
    expect(eleven.body.error.details).toEqual([{ field: '*', issue: '11 unknown properties; use unique_field and fields' }]);
    expect((await as('GET', '/models/thing')).status).toBe(404);
  });

  it('takes back what GET answers: 300 declared fields and the unique field among them', async () => {
    const fields = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, { type: 'number' }]));
    expect((await as('PUT', '/models/roundtrip', { unique_field: 'key', fields })).status).toBe(201);
    const read = await as('GET', '/models/roundtrip');
    expect(Object.keys(read.body.fields)).toHaveLength(301);
    const again = await as('PUT', '/models/roundtrip', { unique_field: read.body.unique_field, fields: read.body.fields });
    expect([again.status, again.body.fields]).toEqual([200, read.body.fields]);
    // 301 besides the unique field are too many.
    const over = await as('PUT', '/models/roundtrip', { unique_field: 'key', fields: { ...read.body.fields, f300: { type: 'number' } } });
    expect([over.status, over.body.error.details]).toEqual([422, [{ field: 'fields', issue: "at most 300 fields besides the unique field and a standard model's own" }]]);
    expect((await as('DELETE', '/models/roundtrip')).status).toBe(204);
    // A standard model's own fields are not counted either: customer's GET shows email and account beside 300 more.
    const extras = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x${i}`, { type: 'string' }]));
    const extended = await as('PUT', '/models/customer', { fields: extras });
    try {
      expect(extended.status).toBe(200);
      const customer = await as('GET', '/models/customer');
      expect(Object.keys(customer.body.fields)).toHaveLength(302);
      expect((await as('PUT', '/models/customer', { unique_field: 'email', fields: customer.body.fields })).status).toBe(200);
      expect((await as('PUT', '/models/customer', { fields: customer.body.fields })).status).toBe(200);
    } finally {
      expect((await as('PUT', '/models/customer', { fields: {} })).status).toBe(200);
    }
  });

  it('applies concurrent definitions of one model one after the other: one creates it, the others replace it', async () => {
    for (let round = 0; round < 3; round++) {
      const name = `race_${round}`;
      const answers = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => as('PUT', `/models/${name}`, { unique_field: `k${i}` })));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      // Every answer says what that PUT wrote, and the stored definition is one of them: the last to be applied.
      const stored = await as('GET', `/models/${name}`);
      expect(answers.map((a) => a.body.unique_field)).toContain(stored.body.unique_field);
      expect(stored.body.updated_at).toBe(answers.map((a) => a.body.updated_at as string).sort().at(-1));
      const created = answers.find((a) => a.status === 201)!;
      expect(answers.every((a) => a.body.created_at === created.body.created_at)).toBe(true);
    }
    // Forty at once: each is overtaken many times, and still applied in its turn, never refused.
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => as('PUT', '/models/race_many', { unique_field: 'k', fields: { [`f${i}`]: { type: 'number' } } })));
    expect(many.map((a) => a.status).sort()).toEqual([...Array.from({ length: 39 }, () => 200), 201]);
    // The stored definition is one of the answers, the last applied (two may share a millisecond).
    const stored = (await as('GET', '/models/race_many')).body;
    expect(many.map((a) => a.body)).toContainEqual(stored);
    expect(stored.updated_at).toBe(many.map((a) => a.body.updated_at as string).sort().at(-1));
  });

  it('applies concurrent deletes of one model one after the other: one deletes it (204), the others find nothing (404)', async () => {
    expect((await as('PUT', '/models/doomed', { unique_field: 'k' })).status).toBe(201);
    const answers = await Promise.all(Array.from({ length: 8 }, () => as('DELETE', '/models/doomed')));
    expect(answers.map((a) => a.status).sort()).toEqual([204, 404, 404, 404, 404, 404, 404, 404]);
    expect(answers.filter((a) => a.status === 404).every((a) => a.body.error.code === 'model_not_found')).toBe(true);
    expect((await as('GET', '/models/doomed')).status).toBe(404);
  });

  it("refuses a definition that would take GET /models past what one Lambda response holds, and changes nothing", async () => {
    const { token: own } = await workspaceWithKey(['records:read', 'models:write']);
    // 300 names of 255 bytes, nearly all quotes: about 310 KB each in GET /models once Lambda escapes it again.
    const fields = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`${String(i).padStart(3, '0')}${'"'.repeat(252)}`, { type: 'string' }]));
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    let defined = 0;
    while (!refused && defined < 40) {
      const response = await call('PUT', `/models/heavy_${defined}`, { token: own, json: { unique_field: 'k', fields } });
      if (response.status === 201) defined++;
      else refused = response;
    }
    expect([refused?.status, refused && errorCode(refused)]).toEqual([422, 'validation_failed']);
    expect(defined).toBeGreaterThan(10);
    expect((await call('GET', `/models/heavy_${defined}`, { token: own })).status).toBe(404);
    const models = await call('GET', '/models', { token: own });
    expect(models.status).toBe(200);
    expect(models.body.models).toHaveLength(defined + 2);
    expect(Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: {}, body: models.text }))).toBeLessThan(6 * 1024 * 1024);
    // Near the limit, a PUT that makes the answer no larger is still taken: the same definition again, or a smaller one.
    expect((await call('PUT', '/models/heavy_0', { token: own, json: { unique_field: 'k', fields } })).status).toBe(200);
    expect((await call('PUT', '/models/heavy_1', { token: own, json: { unique_field: 'k' } })).status).toBe(200);
    // Room for a few again, and eight PUTs at once: each is checked against what the others wrote, so only those that
    // fit are taken, and GET /models stays within its limit (concurrent PUTs each passed the check on their own read).
    for (const name of ['heavy_2', 'heavy_3', 'heavy_4']) expect((await call('DELETE', `/models/${name}`, { token: own })).status).toBe(204);
    const racing = await Promise.all(Array.from({ length: 8 }, (_, i) => call('PUT', `/models/racing_${i}`, { token: own, json: { unique_field: 'k', fields } })));
    const taken = racing.filter((answer) => answer.status === 201).length;
    expect(racing.every((answer) => answer.status === 201 || errorCode(answer) === 'validation_failed')).toBe(true);
    expect([taken > 0, taken < racing.length]).toEqual([true, true]);
    const after = await call('GET', '/models', { token: own });
    expect([after.status, after.body.models.length]).toEqual([200, defined - 1 + taken]);
    expect(responseBytes(after.text)).toBeLessThanOrEqual(maxResponseBytes);
  });

  it('takes model definitions as JSON only', async () => {
    const response = await call('PUT', '/models/thing', { token, form: 'unique_field=id' });
    expect(response.status).toBe(415);
  });

  it('takes field names every object inherits (constructor, toString) as declared fields like any other', async () => {
    // A custom model keyed by one, with the default string type.
    const keyed = await as('PUT', '/models/ctor', { unique_field: 'constructor', fields: { toString: { type: 'number' } } });
    expect(keyed.status).toBe(201);
    expect(keyed.body.fields).toEqual({ constructor: { type: 'string' }, toString: { type: 'number' } });
    const record = await call('POST', '/models/ctor/records', { token, form: 'constructor=c-1&toString=7' });
    expect(record.status).toBe(201);
    expect(record.body.fields).toEqual({ constructor: 'c-1', toString: 7 });
    // A standard model keeps the declaration instead of dropping it as if it were one of its own fields.
    const extended = await as('PUT', '/models/account', { fields: { constructor: { type: 'number' } } });
    expect(extended.status).toBe(200);
    expect(extended.body.fields.constructor).toEqual({ type: 'number' });
    const typed = await call('POST', '/models/account/records', { token, form: 'name=Ctor Co&constructor=12' });
    expect(typed.body.fields.constructor).toBe(12);
  });

  it('normalizes an email unique field of a custom model', async () => {
    expect((await as('PUT', '/models/lead', { unique_field: 'email', fields: { email: { type: 'email' } } })).status).toBe(201);
    const created = await as('POST', '/models/lead/records', { email: ' Lead@Example.COM ' });
    expect(created.body.id).toBe('lead@example.com');
    expect((await as('GET', '/models/lead/records/LEAD@example.com')).status).toBe(200);
    expect((await as('POST', '/models/lead/records', { email: 'nope' })).status).toBe(422);
  });
});
