/**
 * The one middy stack every HTTP function uses: a log line and metrics for every request (lib/http/observability.ts),
 * the request's headers read once (lib/http/request-headers.ts), the caller's identity from the authorizer context, the
 * route's scope check, and the error envelope. Handlers receive an {@link HttpRequest} and return a response; they
 * never catch errors themselves. Write functions add Idempotency-Key on top (lib/http/write-handler.ts); read functions
 * do not import it, so their bundles carry neither Powertools idempotency nor, for /health and /openapi.json, the AWS
 * SDK.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { parseScopes, type Scope } from '../auth/scopes.js';
import { findRoute, type RouteDefinition } from '../routes.js';
import { errorResponse, mapRequestError } from './error-envelope.js';
import { HttpError, malformedHeader } from './http-error.js';
import { logger, observabilityHooks } from './observability.js';
import { readRequestHeaders, type RequestHeaders } from './request-headers.js';

export interface HttpRequest {
  readonly event: APIGatewayProxyEvent;
  readonly route: RouteDefinition;
  readonly requestId: string;
  /** The caller's workspace, from the authorizer context only; empty on public routes. */
  readonly workspace: string;
  readonly scopes: readonly Scope[];
  /** Header names are lower-case; lib/http/request-headers.ts reads them. */
  readonly headers: RequestHeaders;
  /** A path parameter, percent-decoded exactly once (API Gateway REST passes them as the client sent them). */
  pathParameter(name: string): string;
  /** A query-string parameter as API Gateway decoded it. */
  queryParameter(name: string): string | undefined;
  /** Milliseconds left before the function times out. */
  remainingTimeMs(): number;
}

export type HttpHandlerFunction = (request: HttpRequest) => Promise<APIGatewayProxyResult>;

function decodePathParameter(name: string, raw: string | undefined): string {
  if (raw === undefined) throw new HttpError(404, 'route_not_found', `Missing path parameter ${name}`);
  // Most path parameters hold no escape at all, and then there is nothing to decode.
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'malformed_path', `The path parameter "${name}" is not valid percent-encoded UTF-8`, [
      { field: name, issue: 'invalid percent-encoding' },
    ]);
  }
}

function requestFromEvent(event: APIGatewayProxyEvent, context?: Context): HttpRequest {
  const route = findRoute(event.httpMethod, event.resource);
  if (!route) throw new Error(`No route in lib/routes.ts for ${event.httpMethod} ${event.resource}`);
  const authorizer = (event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
  const workspace = typeof authorizer.workspace === 'string' ? authorizer.workspace : '';
  const scopes = parseScopes(typeof authorizer.scopes === 'string' ? authorizer.scopes : undefined);
  if (route.scope !== null) {
    if (!workspace) throw new HttpError(401, 'unauthorized', 'A valid API key is required');
    if (!scopes.includes(route.scope)) {
      throw new HttpError(403, 'forbidden', `This API key lacks the scope ${route.scope}`, [{ field: 'scope', issue: `requires ${route.scope}` }]);
    }
  }
  if (route.scope !== null) refuseUnknownQueryParameters(event, route.queryParameters ?? []);
  const headers = readRequestHeaders(event, { takesKey: route.scope !== null });
  // A write route that cannot apply a condition must not pretend to: a batch sent with If-Match would otherwise write
  // every item unconditionally. Reads ignore them, as they ignore other caching headers.
  if (!route.conditionalWrites && route.method !== 'GET' && (headers['if-match'] !== undefined || headers['if-none-match'] !== undefined)) {
    const name = headers['if-match'] !== undefined ? 'If-Match' : 'If-None-Match';
    throw malformedHeader(name, `${name} applies to single-record upserts and deletes; this route does not take it`, 'not supported on this route');
  }
  return {
    event,
    route,
    requestId: event.requestContext?.requestId ?? 'unknown',
    workspace,
    scopes,
    headers,
    pathParameter: (name) => decodePathParameter(name, event.pathParameters?.[name] ?? undefined),
    queryParameter: (name) => {
      // API Gateway's single-value map keeps the last of a repeated parameter (`?id=a&id=c` would act on c): which one
      // the client meant is not for the API to guess.
      const values = event.multiValueQueryStringParameters?.[name];
      if (values && values.length > 1) {
        throw new HttpError(422, 'validation_failed', `The query parameter "${name}" is given ${values.length} times; give it once`, [
          { field: name, issue: 'is given more than once' },
        ]);
      }
      return event.queryStringParameters?.[name] ?? undefined;
    },
    remainingTimeMs: () => context?.getRemainingTimeInMillis() ?? 29_000,
  };
}

/** Requests read by the identity middleware, by their event, for the handler. */
const prepared = new WeakMap<APIGatewayProxyEvent, HttpRequest>();

/**
 * A 422 naming each query parameter a route does not take (`queryParameters` in lib/routes.ts), so that a client that
 * sent a filter (`?account=Acme`), asked for a page of a list that has none (`GET /models?limit=1`) or an option
 * (`DELETE /models/plan?force=true`) never takes the route's plain answer for what it asked.
 */
function refuseUnknownQueryParameters(event: APIGatewayProxyEvent, known: readonly string[]): void {
  const unknown = Object.keys(event.multiValueQueryStringParameters ?? event.queryStringParameters ?? {}).filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  const takes = known.length > 0 ? `takes ${known.map((name) => `"${name}"`).join(', ')}` : 'takes no query parameters';
  throw new HttpError(422, 'validation_failed', `Unknown query parameter${unknown.length > 1 ? 's' : ''}: this route ${takes}, and no filters or options`, unknown.map((name) => ({ field: name, issue: `unknown query parameter; this route ${takes}` })));
}

/** `limit` and `cursor` of a paginated route, only those the client sent (any parameter it does not take is refused). */
export function pageParameters(request: HttpRequest): { limit?: string; cursor?: string } {
  const limit = request.queryParameter('limit');
  const cursor = request.queryParameter('cursor');
  return { ...(limit !== undefined ? { limit } : {}), ...(cursor !== undefined ? { cursor } : {}) };
}

export interface HttpHandlerOptions {
  /** Middlewares that run after identity and scope are checked, just before the handler (Idempotency-Key). */
  readonly afterIdentity?: ReadonlyArray<MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>>;
}

export function httpHandler(handle: HttpHandlerFunction, options: HttpHandlerOptions = {}) {
  // Logs and metrics hang on middy's requestStart and requestEnd hooks, around every request: the line and the
  // counts see the final answer, the error envelope included, also when a before step answered (a replay).
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>(observabilityHooks())
    .use({
      // Before every other middleware, so its onError shapes every failure, also theirs.
      onError: (request) => {
        const mapped = mapRequestError(request);
        if (!mapped.expected) logger.error('unhandled error', { request_id: mapped.envelope.error.request_id, error: request.error as Error });
        request.response = errorResponse(mapped);
      },
    })
    // Identity and scope first: a request that may not use the route leaves no trace, not even an idempotency record.
    // Synchronous (as are the other middlewares that need no I/O): middy awaits only what returns a promise.
    .use({ before: (request) => void prepared.set(request.event, requestFromEvent(request.event, request.context)) })
    .use([...(options.afterIdentity ?? [])])
    // The request was read once, by the identity step above; the handler gets that same object.
    .handler((event) => {
      const request = prepared.get(event);
      // Only a middleware that replaced request.event could get here without it: a defect, said plainly.
      if (!request) throw new Error('The identity middleware did not run for this event (was request.event replaced?)');
      return handle(request);
    });
}
