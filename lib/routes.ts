/**
 * THE route table. The CDK stack, the local gateway and the tests all read it, so a route cannot exist in one
 * place and not in another. Paths use API Gateway REST resource syntax.
 */
import type { Scope } from './auth/scopes.js';
import type { TableIndexName } from './store/table-definition.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** DynamoDB actions a function may call on the table: the stack grants exactly these and nothing more. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:Query';

/**
 * What a function may do on the table, by the partitions it does it in (IAM's dynamodb:LeadingKeys): `R#` records,
 * `W#` a workspace's model definitions (lib/store/keys.ts). A Query listed here is one of a partition of the table;
 * queries of an index are granted by `indexes`.
 */
export interface TableGrants {
  readonly 'R#'?: readonly TableAction[];
  readonly 'W#'?: readonly TableAction[];
}

export interface RouteDefinition {
  /** Stable identifier, also used for construct ids. */
  readonly name: string;
  readonly method: HttpMethod;
  /** API Gateway resource path, e.g. `/models/{model}/records/{id}`. */
  readonly path: string;
  /** Handler file, relative to the repository root; it must `export const handler`. */
  readonly entry: string;
  /** Scope the caller's key must carry; `null` makes the route public (no authorizer). */
  readonly scope: Scope | null;
  readonly tableActions: TableGrants;
  /**
   * The table's indexes the function queries (with `dynamodb:Query`): only these are granted. An index's partition key
   * starts with the workspace, so IAM cannot hold a query of it to the caller's workspace; a function that never reads
   * an index is not granted one. @default none
   */
  readonly indexes?: readonly TableIndexName[];
  /** The function's timeout, when the default (`defaultFunctionTimeoutSeconds`) is not enough. */
  readonly timeoutSeconds?: number;
  /** Takes If-Match and If-None-Match (single-record upserts and deletes); any other write route refuses them. */
  readonly conditionalWrites?: true;
  /**
   * The query parameters the route takes; any other is a 422 naming it, so that a client's filter (`?account=Acme`) or
   * option (`DELETE ...?force=true`) is never silently ignored. Public routes take any. @default none
   */
  readonly queryParameters?: readonly string[];
}

export const routes: readonly RouteDefinition[] = [
  { name: 'Health', method: 'GET', path: '/health', entry: 'functions/health.ts', scope: null, tableActions: {} },
  { name: 'OpenApi', method: 'GET', path: '/openapi.json', entry: 'functions/openapi.ts', scope: null, tableActions: {} },
  {
    name: 'UpsertRecord',
    method: 'POST',
    path: '/models/{model}/records',
    entry: 'functions/upsert-record.ts',
    conditionalWrites: true,
    scope: 'records:write',
    // UpdateItem for the merge; GetItem to resolve a customer's account link while the write runs, or to settle a write
    // whose answer was lost; GetItem of the model's definition (W#), as every record route has.
    tableActions: { 'R#': ['dynamodb:UpdateItem', 'dynamodb:GetItem'], 'W#': ['dynamodb:GetItem'] },
  },
  {
    name: 'ListRecords',
    method: 'GET',
    path: '/models/{model}/records',
    entry: 'functions/list-records.ts',
    scope: 'records:read',
    // Query on the listing index; GetItem for a custom model's definition; BatchGetItem to resolve links of a page.
    queryParameters: ['limit', 'cursor'],
    tableActions: { 'R#': ['dynamodb:BatchGetItem'], 'W#': ['dynamodb:GetItem'] },
    indexes: ['list'],
  },
  {
    name: 'GetRecord',
    method: 'GET',
    path: '/models/{model}/records/{id}',
    entry: 'functions/get-record.ts',
    scope: 'records:read',
    tableActions: { 'R#': ['dynamodb:GetItem'], 'W#': ['dynamodb:GetItem'] },
  },
  {
    name: 'DeleteRecord',
    method: 'DELETE',
    path: '/models/{model}/records/{id}',
    entry: 'functions/delete-record.ts',
    conditionalWrites: true,
    scope: 'records:write',
    tableActions: { 'R#': ['dynamodb:DeleteItem'], 'W#': ['dynamodb:GetItem'] },
  },
  {
    // Only customers link to accounts, so only `account` has this route's records; any other model answers 404.
    // The path keeps `{model}` rather than a static `account` segment: a static sibling of `{model}` would take every
    // `/models/account/...` request in API Gateway, and `/models/account/records` would lose its POST.
    name: 'ListLinkedCustomers',
    method: 'GET',
    path: '/models/{model}/records/{id}/customers',
    entry: 'functions/list-linked-records.ts',
    scope: 'records:read',
    queryParameters: ['limit', 'cursor'],
    tableActions: { 'R#': ['dynamodb:GetItem'], 'W#': ['dynamodb:GetItem'] },
    indexes: ['link'],
  },
  {
    name: 'BatchRecords',
    method: 'POST',
    path: '/models/{model}/batch',
    entry: 'functions/batch-records.ts',
    scope: 'records:write',
    tableActions: { 'R#': ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'], 'W#': ['dynamodb:GetItem'] },
    // Up to 1,000 writes; items not started before the deadline answer 503, so the function ends inside API Gateway's 29 s.
    timeoutSeconds: 28,
  },
  {
    name: 'ListModels',
    method: 'GET',
    path: '/models',
    entry: 'functions/read-models.ts',
    scope: 'records:read',
    // Query of the workspace's own model partition (W#), not of an index.
    tableActions: { 'W#': ['dynamodb:Query', 'dynamodb:GetItem'] },
  },
  {
    name: 'GetModel',
    method: 'GET',
    path: '/models/{model}',
    entry: 'functions/read-models.ts',
    scope: 'records:read',
    tableActions: { 'W#': ['dynamodb:Query', 'dynamodb:GetItem'] },
  },
  {
    name: 'DefineModel',
    method: 'PUT',
    path: '/models/{model}',
    entry: 'functions/define-model.ts',
    scope: 'models:write',
    // GetItem and PutItem (a transaction's Put) for the definition and the count of their writes, Query of the
    // workspace's definitions (W#); Query on the listing index to see whether the model has records. No record item.
    tableActions: { 'W#': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'] },
    indexes: ['list'],
  },
  {
    name: 'DeleteModel',
    method: 'DELETE',
    path: '/models/{model}',
    entry: 'functions/delete-model.ts',
    scope: 'models:write',
    // Query on the listing index to see whether the model has records.
    tableActions: { 'W#': ['dynamodb:GetItem', 'dynamodb:DeleteItem'] },
    indexes: ['list'],
  },
  // The same operations with the id in the query string (`?id=`), for ids that contain `/`: API Gateway decodes
  // `%2F` before it matches a path, so such an id cannot travel in a path segment. See docs/api.md.
  {
    name: 'GetRecordByQuery',
    method: 'GET',
    path: '/models/{model}/record',
    entry: 'functions/get-record.ts',
    scope: 'records:read',
    queryParameters: ['id'],
    tableActions: { 'R#': ['dynamodb:GetItem'], 'W#': ['dynamodb:GetItem'] },
  },
  {
    name: 'DeleteRecordByQuery',
    method: 'DELETE',
    path: '/models/{model}/record',
    entry: 'functions/delete-record.ts',
    conditionalWrites: true,
    scope: 'records:write',
    queryParameters: ['id'],
    tableActions: { 'R#': ['dynamodb:DeleteItem'], 'W#': ['dynamodb:GetItem'] },
  },
  {
    name: 'ListLinkedCustomersByQuery',
    method: 'GET',
    path: '/models/{model}/record/customers',
    entry: 'functions/list-linked-records.ts',
    scope: 'records:read',
    queryParameters: ['id', 'limit', 'cursor'],
    tableActions: { 'R#': ['dynamodb:GetItem'], 'W#': ['dynamodb:GetItem'] },
    indexes: ['link'],
  },
];

/** The Lambda authorizer is not a route, but it is deployed and run locally from this entry. */
export const authorizerEntry = 'functions/authorizer.ts';
/** The scheduled end-to-end test (infra/constructs/scheduled-tests.ts); it calls the API, not the table. */
export const scheduledTestEntry = 'functions/scheduled-smoke.ts';

/** GetItem to find the key by its hash; UpdateItem to record when it was last used (at most once an hour). */
export const authorizerTableActions: readonly TableAction[] = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];

/** A function's timeout unless a route of it asks for more: two DynamoDB calls' retry budgets. */
export const defaultFunctionTimeoutSeconds = 20;

/** The timeout of the function deployed from `entry` (the largest any of its routes asks for), as the stack sets it. */
export function functionTimeoutSeconds(entry: string, routeList: readonly RouteDefinition[] = routes): number {
  return Math.max(defaultFunctionTimeoutSeconds, ...routeList.filter((route) => route.entry === entry).map((route) => route.timeoutSeconds ?? 0));
}

/** Routes grouped by entry: one Lambda function serves every route that names the same file. */
export function functionsByEntry(): Map<string, RouteDefinition[]> {
  const byEntry = new Map<string, RouteDefinition[]>();
  for (const route of routes) {
    const list = byEntry.get(route.entry) ?? [];
    list.push(route);
    byEntry.set(route.entry, list);
  }
  return byEntry;
}

const routesByKey = new Map(routes.map((route) => [`${route.method} ${route.path}`, route]));

/** The route an API Gateway event belongs to, by its resource path and method (twice per request: identity, log line). */
export function findRoute(method: string, resource: string): RouteDefinition | undefined {
  return routesByKey.get(`${method} ${resource}`);
}
