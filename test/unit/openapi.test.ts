/** The API reference: complete for lib/routes.ts, lint-clean under @redocly/cli, and able to catch drift. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { openApiDocument } from '../../lib/http/openapi.js';
import { routes } from '../../lib/routes.js';
import { checkAgainstOpenApi } from '../support/openapi-validator.js';

type Json = Record<string, any>;
const document = openApiDocument('https://api.example.net') as Json;

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and describes every route, with a curl example and its security', () => {
    expect(document.openapi).toBe('3.1.0');
    for (const route of routes) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()];
      expect([route.name, operation !== undefined]).toEqual([route.name, true]);
      expect(operation['x-codeSamples'][0].source).toMatch(/^curl /);
      expect(operation.security).toEqual(route.scope === null ? [] : [{ ApiKey: [route.scope] }]);
      // The query parameters it documents are those the route takes (lib/routes.ts), which refuses any other.
      const queryNames = (operation.parameters ?? []).map((p: { $ref: string }) => document.components.parameters[p.$ref.split('/').pop()!]).filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name);
      if (route.scope !== null) expect([route.name, queryNames.sort()]).toEqual([route.name, [...(route.queryParameters ?? [])].sort()]);
      // If-Match and If-None-Match are documented exactly where the API applies them (and refused elsewhere).
      const parameters = (operation.parameters ?? []).map((p: { $ref: string }) => p.$ref.split('/').pop());
      expect([route.name, parameters.includes('ifMatch'), parameters.includes('ifNoneMatch')]).toEqual([route.name, route.conditionalWrites === true, route.conditionalWrites === true]);
      // So is the 412 they can cause: a route that refuses them with a 400 never answers 412.
      expect([route.name, '412' in operation.responses]).toEqual([route.name, route.conditionalWrites === true]);
      // A 415 is about a body: only routes that take one list it.
      if (route.scope !== null) expect([route.name, '415' in operation.responses]).toEqual([route.name, operation.requestBody !== undefined]);
    }
    // Statuses a route cannot give are not listed: GET /models has no path to be wrong (a query parameter is a 422).
    expect(Object.keys(document.paths['/models'].get.responses)).not.toEqual(expect.arrayContaining(['404']));
    expect(document.paths['/models'].get.responses['422']).toBeDefined();
    expect(document.paths['/models/{model}/records'].get.responses['422']).toBeDefined();
    const upsert = document.paths['/models/{model}/records'].post;
    expect(Object.keys(upsert.requestBody.content).sort()).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    expect(upsert.responses['201'].headers.ETag).toBeDefined();
    expect(upsert.parameters.map((p: { $ref: string }) => p.$ref.split('/').pop())).toEqual(['model', 'ifMatch', 'ifNoneMatch', 'idempotencyKey']);
    expect(document.components.headers.RetryAfter).toBeDefined();
    // Only accounts have linked customers: the path's {model} takes that one value (SPEC names the path with it).
    for (const path of ['/models/{model}/records/{id}/customers', '/models/{model}/record/customers']) {
      expect([path, document.paths[path].get.parameters[0]]).toEqual([path, { $ref: '#/components/parameters/accountModel' }]);
    }
    expect(document.components.parameters.accountModel.schema).toEqual({ type: 'string', const: 'account' });
    // The local gateway refuses an Expect other than 100-continue with a 417 on any route, public or not.
    expect(document.paths['/models/{model}/records'].post.responses['417']).toBeDefined();
    expect(document.paths['/health'].get.responses['417']).toBeDefined();
    // A bearer scheme, so consoles and generated clients send "Bearer <key>" (an apiKey scheme made them send the bare key).
    expect(document.components.securitySchemes.ApiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.components.schemas.ErrorBody.properties.code.enum).toEqual(expect.arrayContaining(['validation_failed', 'precondition_failed', 'unavailable']));
  });

  it("states the field-name rules a schema can: a payload with a reserved or empty name fails it, as the API refuses it", () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: 'api', components: document.components });
    const payload = ajv.compile({ $ref: 'api#/components/schemas/FieldsPayload' });
    expect(payload({ name: 'Acme', 'a.b': 1, '#x': 2, constructor: 3, ['é'.repeat(255)]: 4 })).toBe(true);
    for (const name of ['_unset', '__proto__', '', 'x'.repeat(256)]) expect([name.slice(0, 10), payload(JSON.parse(JSON.stringify({ [name]: 1 })))]).toEqual([name.slice(0, 10), false]);
  });

  it('passes @redocly/cli lint with no errors and no warnings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gather-openapi-'));
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    const lint = spawnSync('node_modules/.bin/redocly', ['lint', file, '--config', 'docs/redocly.yaml'], { encoding: 'utf8' });
    const output = `${lint.stdout}${lint.stderr}`;
    expect([lint.status, output]).toEqual([0, expect.stringMatching(/description is valid/i)]);
    expect(output).not.toMatch(/warnings?\./i);
  });

  it('lets the response check catch an undocumented status, a wrong body and a missing header', () => {
    const json = new Headers({ 'Content-Type': 'application/json', 'x-amzn-RequestId': 'r' });
    expect(() => checkAgainstOpenApi('GET', 'http://x/models/account/records/a', 418, json, '{}')).toThrow(/not documented/);
    expect(() => checkAgainstOpenApi('GET', 'http://x/models/account/records/a', 200, new Headers({ 'Content-Type': 'application/json', 'x-amzn-RequestId': 'r', ETag: '"1"' }), '{"id":"a"}')).toThrow(/does not match/);
    expect(() => checkAgainstOpenApi('POST', 'http://x/models/account/records', 503, json, '{"error":{"code":"unavailable","message":"m","request_id":"r"}}')).toThrow(/Retry-After/);
    // Every success names its request; an error may come without it (a WAF's).
    expect(() => checkAgainstOpenApi('GET', 'http://x/health', 200, new Headers({ 'Content-Type': 'application/json' }), '{"status":"ok"}')).toThrow(/x-amzn-RequestId is missing/);
    expect(() => checkAgainstOpenApi('GET', 'http://x/models/account/records/a', 404, new Headers({ 'Content-Type': 'application/json' }), '{"error":{"code":"record_not_found","message":"m","request_id":"waf"}}')).not.toThrow();
    expect(() =>
      checkAgainstOpenApi('GET', 'http://x/health', 200, json, '{"status":"ok"}'),
    ).not.toThrow();
  });
});
