/**
 * The API reference, an OpenAPI 3.1 document built from the code: every path comes from lib/routes.ts, and the limits,
 * patterns and enums in the schemas are the constants the validators use (lib/records/limits.ts, model names, field
 * types, list limits), so a route or a limit cannot change without the document changing too. Integration tests check
 * every response they receive against it (test/support/openapi-validator.ts).
 */
import { allScopes } from '../auth/scopes.js';
import { fieldTypes, modelNamePattern } from '../models/model-definition.js';
import { batchLimits } from '../records/batch-service.js';
import { limits } from '../records/limits.js';
import { listLimits } from '../records/record-service.js';
import { routes, type RouteDefinition } from '../routes.js';
import { gatewayResponses } from './gateway-responses.js';

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: Json, example?: unknown) => ({ 'application/json': { schema, ...(example !== undefined ? { example } : {}) } });

const errorCodes = [
  ...new Set([
    'malformed_body', 'malformed_header', 'malformed_path', 'missing_parameter', 'unauthorized', 'forbidden',
    'record_not_found', 'model_not_found', 'route_not_found', 'model_not_empty', 'standard_model', 'request_in_progress',
    'precondition_failed', 'payload_too_large', 'record_too_large', 'unsupported_media_type', 'validation_failed',
    'missing_unique_field', 'idempotency_key_reused', 'rate_limited', 'unavailable', 'internal_error', 'timeout',
    ...gatewayResponses.map((r) => r.code),
  ]),
];

const schemas: Record<string, Json> = {
  Fields: {
    type: 'object',
    description: `The record's fields by name: 1 to ${limits.maxFieldNameBytes} bytes, not starting with "_". Merges can give a record more fields than one payload may carry.`,
    additionalProperties: true,
    propertyNames: ref('FieldName'),
  },
  FieldName: {
    type: 'string',
    // JSON Schema counts characters, and a name's limit is in bytes of UTF-8: a bound the API's own check may still
    // refuse (a name of 255 characters outside ASCII), never one it would accept beyond.
    description: `A field name: 1 to ${limits.maxFieldNameBytes} bytes of UTF-8, no control characters, not starting with "_" (reserved for control parameters). JSON Schema's maxLength counts characters, not bytes: a name of ${limits.maxFieldNameBytes} characters outside ASCII passes it and is still refused.`,
    minLength: 1,
    maxLength: limits.maxFieldNameBytes,
    pattern: '^[^_]',
  },
  FieldsPayload: {
    type: 'object',
    description: `Fields to set (null removes one): at most ${limits.maxFieldsPerPayload} per payload, names 1 to ${limits.maxFieldNameBytes} bytes, not starting with "_".`,
    additionalProperties: true,
    maxProperties: limits.maxFieldsPerPayload,
    propertyNames: ref('FieldName'),
  },
  LinkState: {
    oneOf: [
      { type: 'null' },
      {
        type: 'object',
        required: ['id', 'exists'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          exists: { type: ['boolean', 'null'], description: 'null only when a write succeeded but its link could not be checked (the database failed that read); read the record to know' },
        },
      },
    ],
  },
  RecordEnvelope: {
    type: 'object',
    required: ['model', 'id', 'version', 'created_at', 'updated_at', 'fields', 'links'],
    additionalProperties: false,
    properties: {
      model: { type: 'string', pattern: modelNamePattern.source },
      id: { type: 'string', minLength: 1 },
      version: { type: 'integer', minimum: 1 },
      created_at: { type: 'string', format: 'date-time' },
      updated_at: {
        type: 'string',
        format: 'date-time',
        description: 'When the last change was stamped, never before created_at; under concurrent writes a higher version can carry a slightly earlier time.',
      },
      fields: ref('Fields'),
      links: { type: 'object', additionalProperties: ref('LinkState') },
    },
  },
  RecordPage: {
    type: 'object',
    required: ['records', 'next_cursor'],
    additionalProperties: false,
    properties: { records: { type: 'array', items: ref('RecordEnvelope'), maxItems: listLimits.max }, next_cursor: { type: ['string', 'null'] } },
  },
  FieldIssue: {
    type: 'object',
    required: ['field', 'issue'],
    additionalProperties: false,
    properties: { field: { type: 'string' }, issue: { type: 'string' } },
  },
  ErrorBody: {
    type: 'object',
    required: ['code', 'message'],
    additionalProperties: false,
    properties: {
      code: { type: 'string', enum: errorCodes },
      message: { type: 'string' },
      details: { type: 'array', items: ref('FieldIssue') },
      request_id: { type: 'string' },
    },
  },
  ErrorEnvelope: {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: { error: { allOf: [ref('ErrorBody'), { required: ['request_id'] }] } },
  },
  BatchRequest: {
    type: 'object',
    additionalProperties: false,
    // A schema cannot bound the sum of two arrays' lengths: the limit is stated for the reader, and the API checks it.
    description: `At most ${batchLimits.maxItems} items in records and delete together (more is a 422).`,
    properties: {
      records: { type: 'array', items: ref('FieldsPayload'), maxItems: batchLimits.maxItems },
      delete: { type: 'array', items: { type: 'string' }, maxItems: batchLimits.maxItems },
    },
  },
  BatchResult: {
    type: 'object',
    required: ['op', 'index', 'status'],
    additionalProperties: false,
    properties: {
      op: { type: 'string', enum: ['upsert', 'delete'] },
      index: { type: 'integer', minimum: 0 },
      status: { type: 'integer' },
      id: { type: 'string' },
      error: ref('ErrorBody'),
    },
  },
  BatchResponse: { type: 'object', required: ['results'], additionalProperties: false, properties: { results: { type: 'array', items: ref('BatchResult') } } },
  FieldDefinition: { type: 'object', required: ['type'], additionalProperties: false, properties: { type: { type: 'string', enum: [...fieldTypes] } } },
  ModelDefinitionRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      unique_field: { type: 'string', description: 'Required for custom models; the standard models keep theirs.' },
      fields: {
        type: 'object',
        additionalProperties: ref('FieldDefinition'),
        description: `At most ${limits.maxFieldsPerPayload} fields besides the unique field and a standard model's own (no maxProperties: what GET answers, those included, can be PUT back).`,
      },
    },
  },
  Model: {
    type: 'object',
    required: ['name', 'unique_field', 'fields', 'standard', 'created_at', 'updated_at'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: modelNamePattern.source },
      unique_field: { type: 'string' },
      fields: { type: 'object', additionalProperties: ref('FieldDefinition') },
      standard: { type: 'boolean' },
      created_at: { type: ['string', 'null'] },
      updated_at: { type: ['string', 'null'] },
    },
  },
  ModelList: { type: 'object', required: ['models'], additionalProperties: false, properties: { models: { type: 'array', items: ref('Model') } } },
  Health: { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { type: 'string', const: 'ok' } } },
};

const headers = {
  ETag: { description: 'The record version, quoted: "3".', required: true, schema: { type: 'string', pattern: '^"\\d+"$' } },
  RetryAfter: { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
  RetryAfterWhenItemsUnavailable: { description: 'Seconds to wait before sending again the items answered 503 (present only when there are some).', required: false, schema: { type: 'string', pattern: '^\\d+$' } },
  RetryAfterWhenInProgress: { description: 'Seconds to wait, when the request is in progress (409 request_in_progress).', required: false, schema: { type: 'string', pattern: '^\\d+$' } },
  RequestId: { description: "The request's id, which its log line carries (API Gateway sets it on every answer).", required: true, schema: { type: 'string', minLength: 1 } },
  RequestIdOfError: {
    description: "The request's id, as in the error's request_id (API Gateway sets it on every answer it gives; an answer of a stage's WAF, whose request_id is \"waf\", may come without it).",
    required: false,
    schema: { type: 'string', minLength: 1 },
  },
};

const parameters: Record<string, Json> = {
  model: { name: 'model', in: 'path', required: true, description: 'A model name.', schema: { type: 'string', pattern: modelNamePattern.source } },
  // The route is the records route's subresource, so its path names {model}, but only accounts have linked customers:
  // any other model is a 404 route_not_found.
  accountModel: { name: 'model', in: 'path', required: true, description: 'Always account: customers link to accounts.', schema: { type: 'string', const: 'account' } },
  id: {
    name: 'id',
    in: 'path',
    required: true,
    description: `The record's unique value, percent-encoded (decoded exactly once), 1 to ${limits.maxIdBytes} bytes. Ids containing "/" use the ?id= form: an encoded "/" is decoded before routing, so it answers 404, or for an account id ending in "/customers" (GET) the customers of the account before it.`,
    schema: { type: 'string', minLength: 1 },
  },
  idQuery: {
    name: 'id',
    in: 'query',
    required: true,
    description: `The record id, for ids that contain "/": 1 to ${limits.maxIdBytes} bytes of UTF-8 once trimmed and normalized (no schema bound: blanks around it are trimmed, and normalizing can shorten it).`,
    schema: { type: 'string', minLength: 1 },
  },
  limit: { name: 'limit', in: 'query', required: false, description: `Records per page, 1 to ${listLimits.max}.`, schema: { type: 'integer', minimum: 1, maximum: listLimits.max, default: listLimits.default } },
  cursor: { name: 'cursor', in: 'query', required: false, description: 'The next_cursor of the previous page.', schema: { type: 'string' } },
  ifMatch: { name: 'If-Match', in: 'header', required: false, description: 'Apply only to a version it names: one ETag (`\"3\"`), a list of up to 20 (`\"3\", \"4\"`), or `*` (the record must exist). ETags no record can have (`\"03\"`) fail with 412.', schema: { type: 'string' } },
  ifNoneMatch: { name: 'If-None-Match', in: 'header', required: false, description: '`*`: act only if there is no record (an upsert creates only; a delete answers 412 or 404).', schema: { type: 'string', const: '*' } },
  idempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: 'Replays the first response to the same request for 24 hours (a failure is not kept, except a delete\'s 404: nothing to delete); 1 to 255 visible ASCII characters.',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
  },
};

const error = (description: string, retry?: 'RetryAfter' | 'RetryAfterWhenInProgress') => ({
  description,
  ...(retry ? { headers: { 'Retry-After': { $ref: `#/components/headers/${retry}` } } } : {}),
  content: jsonContent(ref('ErrorEnvelope')),
});

/** The answers every protected route can give besides its own. */
const commonErrors = {
  '400': error('A malformed request: body, header (a Transfer-Encoding other than chunked among them), path or parameter.'),
  '401': error('No key, or a malformed, unknown or revoked key.'),
  '403': error("The key lacks the scope this route needs, or (on a stage) its workspace is in no usage plan."),
  '404': error('No such record, model or route.'),
  '413': error(
    `The body is too large (payload_too_large: over ${limits.maxBodyBytes / 1024 / 1024} MB, a batch over ${limits.maxBatchBodyBytes / 1024 / 1024} MB), or the stored record would be (record_too_large).`,
  ),
  '415': error('The body is neither JSON nor form-encoded, names a charset other than UTF-8, or a Content-Encoding.'),
  '422': error('A field, value or parameter breaks a rule, or a query parameter the operation does not take was sent; details name each.'),
  '429': error("A rate limit: the workspace's, the stage's, or (where the WAF is on) one IP's.", 'RetryAfter'),
  '408': error(
    "The request's headers did not all arrive within about a minute, or the whole request within five (refused by the local gateway; a stage answers as API Gateway does).",
  ),
  '414': error(
    "The path is too long for API Gateway: a protected method's ARN, which holds the path, may be at most 1,600 bytes (a long id percent-encoded; use the ?id= form).",
  ),
  '417': error('An Expect header other than 100-continue (refused by the local gateway, as RFC 9110 allows; a stage answers as API Gateway does).'),
  '431': error('The request line and headers are too large (refused by the gateway).'),
  '500': error('A defect; the request_id finds it in the logs.'),
  '502': error('A defect in a function; the request_id finds it in the logs.'),
  '503': error('DynamoDB or authentication unavailable after retries.', 'RetryAfter'),
  '504': error('The request timed out.'),
};

/** What a public route can still get from the gateway. */
const publicErrors = {
  '400': error(
    'A request the gateway refuses before any handler: not valid HTTP, a query string that is not valid percent-encoded UTF-8, or a Transfer-Encoding other than chunked.',
  ),
  '413': error('The request is too large for the gateway or the function.'),
  '408': commonErrors['408'],
  '417': commonErrors['417'],
  '429': commonErrors['429'],
  '431': commonErrors['431'],
  '500': commonErrors['500'],
  '502': commonErrors['502'],
  '504': commonErrors['504'],
};

const writeErrors = {
  '409': error('A request with this Idempotency-Key is still in progress.', 'RetryAfterWhenInProgress'),
};

/** The model routes can also refuse a change to a model that has records, or to a standard model. */
const modelWriteErrors = {
  '409': error('A request with this Idempotency-Key is still in progress, or the model has records / is standard.', 'RetryAfterWhenInProgress'),
};

/** Only the routes that take If-Match and If-None-Match (`conditionalWrites` in lib/routes.ts) can answer 412. */
const conditionalWriteErrors = { ...writeErrors, '412': error('If-Match or If-None-Match failed.') };

const recordResponse = (description: string) => ({ description, headers: { ETag: { $ref: '#/components/headers/ETag' } }, content: jsonContent(ref('RecordEnvelope')) });
const curl = (method: string, path: string, extra = '') => [
  { lang: 'curl', source: `curl -X ${method} "https://api.example.com${path}" -H "Authorization: Token $API_KEY"${extra}` },
];

interface Operation {
  readonly summary: string;
  /** Answers of {@link commonErrors} this route cannot give (its path or parameters cannot be wrong that way). */
  readonly cannotAnswer?: readonly (keyof typeof commonErrors)[];
  readonly description?: string;
  readonly parameters?: Json[];
  readonly requestBody?: Json;
  readonly responses: Record<string, Json>;
  readonly curl: { lang: string; source: string }[];
}

const p = (name: string) => ({ $ref: `#/components/parameters/${name}` });

/** What each route does, by its name in lib/routes.ts. */
const operations: Record<string, Operation> = {
  Health: { summary: 'Liveness', responses: { '200': { description: 'The API answers.', content: jsonContent(ref('Health')) } }, curl: [{ lang: 'curl', source: 'curl https://api.example.com/health' }] },
  OpenApi: { summary: 'This document', responses: { '200': { description: 'The OpenAPI 3.1 document.', content: jsonContent({ type: 'object' }) } }, curl: [{ lang: 'curl', source: 'curl https://api.example.com/openapi.json' }] },
  UpsertRecord: {
    summary: 'Upsert one record (merge)',
    description: 'Creates the record or merges the payload into it, by its unique field. A repeated identical upsert changes nothing.',
    parameters: [p('model'), p('ifMatch'), p('ifNoneMatch'), p('idempotencyKey')],
    requestBody: {
      required: true,
      content: {
        'application/json': { schema: ref('FieldsPayload'), example: { email: 'don@sterlingcooper.com', account: 'Sterling Cooper', title: 'Creative Director' } },
        'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: true, description: 'Form fields; a repeated key is an array; _unset=<field> removes a field.' } },
      },
    },
    responses: { '200': recordResponse('The record existed; the merged record.'), '201': recordResponse('The record was created.'), ...conditionalWriteErrors },
    curl: curl('POST', '/models/account/records', ' -d name="Sterling Cooper" -d size="50-100"'),
  },
  ListRecords: {
    summary: "List a model's records",
    parameters: [p('model'), p('limit'), p('cursor')],
    responses: { '200': { description: 'One page.', content: jsonContent(ref('RecordPage')) } },
    curl: curl('GET', '/models/account/records?limit=100'),
  },
  GetRecord: { summary: 'Read one record', parameters: [p('model'), p('id')], responses: { '200': recordResponse('The record.') }, curl: curl('GET', '/models/account/records/Sterling%20Cooper') },
  DeleteRecord: {
    summary: 'Delete one record',
    parameters: [p('model'), p('id'), p('ifMatch'), p('ifNoneMatch'), p('idempotencyKey')],
    responses: { '204': { description: 'Deleted.' }, ...conditionalWriteErrors },
    curl: curl('DELETE', '/models/account/records/Sterling%20Cooper'),
  },
  GetRecordByQuery: { summary: 'Read one record whose id contains "/"', parameters: [p('model'), p('idQuery')], responses: { '200': recordResponse('The record.') }, curl: curl('GET', '/models/account/record?id=A%2FB%20Testing') },
  DeleteRecordByQuery: {
    summary: 'Delete one record whose id contains "/"',
    parameters: [p('model'), p('idQuery'), p('ifMatch'), p('ifNoneMatch'), p('idempotencyKey')],
    responses: { '204': { description: 'Deleted.' }, ...conditionalWriteErrors },
    curl: curl('DELETE', '/models/account/record?id=A%2FB%20Testing'),
  },
  ListLinkedCustomers: {
    summary: 'The customers linked to an account',
    parameters: [p('accountModel'), p('id'), p('limit'), p('cursor')],
    responses: { '200': { description: 'One page of customers.', content: jsonContent(ref('RecordPage')) } },
    curl: curl('GET', '/models/account/records/Sterling%20Cooper/customers'),
  },
  ListLinkedCustomersByQuery: {
    summary: 'The customers linked to an account whose id contains "/"',
    parameters: [p('accountModel'), p('idQuery'), p('limit'), p('cursor')],
    responses: { '200': { description: 'One page of customers.', content: jsonContent(ref('RecordPage')) } },
    curl: curl('GET', '/models/account/record/customers?id=A%2FB%20Testing'),
  },
  BatchRecords: {
    summary: 'Up to 1,000 upserts and deletes',
    description: 'One result per item: upserts first, then deletes, each in request order. One bad item never fails the others.',
    parameters: [p('model'), p('idempotencyKey')],
    requestBody: { required: true, content: jsonContent(ref('BatchRequest'), { records: [{ name: 'Acme' }], delete: ['Old Co'] }) },
    responses: {
      '200': {
        // An item's error carries no request id of its own: the batch's is in this header.
        description: 'Per-item results.',
        headers: { 'x-amzn-RequestId': { $ref: '#/components/headers/RequestId' }, 'Retry-After': { $ref: '#/components/headers/RetryAfterWhenItemsUnavailable' } },
        content: jsonContent(ref('BatchResponse')),
      },
      ...writeErrors,
    },
    curl: curl('POST', '/models/account/batch', ` -H "Content-Type: application/json" -d '{"records":[{"name":"Acme"}],"delete":["Old Co"]}'`),
  },
  ListModels: { summary: "The workspace's models", description: 'Every model in one answer: the route takes no query parameters (any is a 422 naming it).', cannotAnswer: ['404'], responses: { '200': { description: 'Standard and custom models.', content: jsonContent(ref('ModelList')) } }, curl: curl('GET', '/models') },
  GetModel: { summary: 'One model', parameters: [p('model')], responses: { '200': { description: 'The model.', content: jsonContent(ref('Model')) } }, curl: curl('GET', '/models/subscription') },
  DefineModel: {
    summary: 'Define or change a model',
    parameters: [p('model'), p('idempotencyKey')],
    requestBody: { required: true, content: jsonContent(ref('ModelDefinitionRequest'), { unique_field: 'external_id', fields: { price: { type: 'number' } } }) },
    responses: {
      '200': { description: 'The model existed; its new definition.', content: jsonContent(ref('Model')) },
      '201': { description: 'The model was created.', content: jsonContent(ref('Model')) },
      ...modelWriteErrors,
    },
    curl: curl('PUT', '/models/subscription', ` -H "Content-Type: application/json" -d '{"unique_field":"external_id","fields":{"price":{"type":"number"}}}'`),
  },
  DeleteModel: {
    summary: 'Delete a custom model without records',
    parameters: [p('model'), p('idempotencyKey')],
    responses: { '204': { description: 'Deleted.' }, ...modelWriteErrors },
    curl: curl('DELETE', '/models/subscription'),
  },
};

/** What a route that takes JSON only (a batch, a model) refuses with a 415. */
const jsonOnly415 = error('The body is not JSON (this route takes no form body), names a charset other than UTF-8, or a Content-Encoding.');

/** The common errors a protected route can give: a 415 only where it takes a body, said for the bodies it takes. */
function errorsOf(operation: Operation): Partial<typeof commonErrors> {
  const cannot = new Set<string>([...(operation.cannotAnswer ?? []), ...(operation.requestBody ? [] : ['415'])]);
  const errors: Record<string, Json> = Object.fromEntries(Object.entries(commonErrors).filter(([status]) => !cannot.has(status)));
  const content = (operation.requestBody as { content?: Record<string, unknown> } | undefined)?.content;
  if (errors['415'] && content && !('application/x-www-form-urlencoded' in content)) errors['415'] = jsonOnly415;
  return errors;
}

/** Every answer names its request in `x-amzn-RequestId`: required on a success, not on an error a WAF may give. */
function withRequestIds(responses: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => {
      const header = { $ref: `#/components/headers/${status.startsWith('2') ? 'RequestId' : 'RequestIdOfError'}` };
      const own = (response as { headers?: Record<string, Json> }).headers;
      return [status, { ...(response as object), headers: { 'x-amzn-RequestId': header, ...own } }];
    }),
  );
}

function operationFor(route: RouteDefinition): Json {
  const operation = operations[route.name];
  if (!operation) throw new Error(`lib/http/openapi.ts describes no operation for the route ${route.name}`);
  return {
    operationId: route.name.charAt(0).toLowerCase() + route.name.slice(1),
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    ...(operation.parameters ? { parameters: operation.parameters } : {}),
    ...(operation.requestBody ? { requestBody: operation.requestBody } : {}),
    responses: withRequestIds({ ...operation.responses, ...(route.scope !== null ? errorsOf(operation) : publicErrors) }),
    // OpenAPI 3.1 lets a requirement of a scheme other than OAuth name the roles it needs: here, the key's scope.
    security: route.scope === null ? [] : [{ ApiKey: [route.scope] }],
    ...(route.scope !== null ? { 'x-required-scope': route.scope } : {}),
    'x-codeSamples': operation.curl,
  };
}

export function openApiDocument(serverUrl = 'http://localhost:3000'): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operationFor(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gather records API',
      version: '1.0.0',
      description: 'Upsert, read, list and delete customer-data records by their unique field. See docs/api.md for the rules.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: serverUrl }],
    security: [{ ApiKey: [] }],
    tags: [],
    paths,
    components: {
      securitySchemes: {
        // HTTP bearer, so generated clients and API consoles send "Bearer <key>" themselves; an apiKey scheme on
        // Authorization made them send the bare key, a 401.
        ApiKey: {
          type: 'http',
          scheme: 'bearer',
          description: `"Authorization: Bearer <key>" (or "Token <key>", as the help article writes it). Keys carry scopes: ${allScopes.join(', ')}; each operation names the one it needs in its security requirement (and in x-required-scope).`,
        },
      },
      schemas,
      parameters,
      headers,
    },
  };
}
