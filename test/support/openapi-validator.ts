/**
 * No drift between the API and its reference: every response an integration test receives is checked against the
 * OpenAPI document (lib/http/openapi.ts): its status must be documented for the operation, its body must match the
 * documented schema (JSON Schema 2020-12, as OpenAPI 3.1 uses), and its documented required headers must be there.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openApiDocument } from '../../lib/http/openapi.js';
import { matchRoute } from '../../lib/local/route-matcher.js';
import { routes } from '../../lib/routes.js';

type Json = Record<string, any>;
const document = openApiDocument() as Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema({ $id: 'api', components: document.components }, 'api');

const compiled = new Map<string, ValidateFunction>();
function validatorFor(key: string, schema: Json): ValidateFunction {
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"api#/components/')));
    compiled.set(key, validate);
  }
  return validate;
}

const resolve = (value: Json): Json => (value.$ref ? resolve(value.$ref.split('/').slice(1).reduce((node: Json, part: string) => node[part], document)) : value);

export function checkAgainstOpenApi(method: string, url: string, status: number, headers: Headers, text: string): void {
  const path = new URL(url).pathname;
  const rawPath = url.replace(/^https?:\/\/[^/]+/, '').split('?')[0]!;
  const where = `${method} ${path} -> ${status}`;
  const match = matchRoute(routes, method, rawPath);
  let response: Json | undefined;
  if (match.kind === 'not_found') {
    // Not an operation: only the gateway's own answers, in the error envelope.
    if (![404, 413].includes(status)) throw new Error(`${where}: a request that matches no operation answered ${status}`);
    response = resolve(document.components.schemas.ErrorEnvelope) && { content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } } };
  } else {
    const operation = document.paths[match.route.path]?.[method.toLowerCase()] as Json | undefined;
    if (!operation) throw new Error(`${where}: the route ${match.route.name} is missing from the OpenAPI document`);
    response = operation.responses[String(status)] as Json | undefined;
    if (!response) throw new Error(`${where}: status ${status} is not documented for ${match.route.name} (documented: ${Object.keys(operation.responses).join(', ')})`);
    response = resolve(response);
  }
  for (const [name, header] of Object.entries((response.headers ?? {}) as Json)) {
    const definition = resolve(header);
    const value = headers.get(name);
    if (definition.required && value === null) throw new Error(`${where}: the documented header ${name} is missing`);
    if (value !== null && definition.schema?.pattern && !new RegExp(definition.schema.pattern).test(value)) {
      throw new Error(`${where}: header ${name}: "${value}" does not match ${definition.schema.pattern}`);
    }
  }
  const content = response.content as Json | undefined;
  if (!content) {
    if (text !== '') throw new Error(`${where}: a body was sent where none is documented`);
    return;
  }
  const schema = content['application/json']?.schema as Json | undefined;
  if (!schema) return;
  if (!(headers.get('content-type') ?? '').startsWith('application/json')) throw new Error(`${where}: expected application/json`);
  const validate = validatorFor(`${where}:${JSON.stringify(schema)}`, schema);
  const body = JSON.parse(text);
  if (!validate(body)) {
    throw new Error(`${where}: the body does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 500)}`);
  }
}
