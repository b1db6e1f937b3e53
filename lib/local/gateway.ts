/**
 * The local gateway: an HTTP server with API Gateway REST semantics in front of the real handlers and the real
 * authorizer, reading the same route table as the stack. What it reproduces:
 * - routing by resource path and method; unknown routes answer 404 `route_not_found` (the stack's gateway response);
 * - the TOKEN authorizer on every route with a scope, fed the Authorization header, its policy evaluated against the
 *   method ARN and cached per header value for the configured TTL; a missing header is a 401 without a call;
 * - Lambda proxy events (payload format 1.0) with path parameters as the client sent them, bodies base64-encoded
 *   (the API's binary media type is `*` so handlers can check the bytes), the authorizer context in requestContext;
 * - the 10 MB request limit, and gateway errors in the error envelope;
 * - each function's timeout as the stack sets it (lib/routes.ts), through the context's getRemainingTimeInMillis;
 * - when asked (`workspaceRateLimit`), each workspace's usage-plan throttle: 429 `rate_limited` once its bucket is empty.
 */
import { randomUUID } from 'node:crypto';
import { createServer, maxHeaderSize, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayTokenAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { errorEnvelope } from '../http/error-envelope.js';
import { gatewayResponse } from '../http/gateway-responses.js';
import { parseHostHeader } from '../http/host-header.js';
import { encodedPairs } from '../http/parse-body.js';
import { defaultFunctionTimeoutSeconds, functionTimeoutSeconds, type RouteDefinition } from '../routes.js';
import { AuthorizerCache } from './authorizer-cache.js';
import { maxMethodArnBytes, methodArnTooLong } from './method-arn.js';
import { matchRoute, type RouteMatch } from './route-matcher.js';
import { transferEncodingProblem } from './transfer-encoding.js';
import { WorkspaceRateLimiter, type RateLimit } from './workspace-rate-limit.js';

/** The route a request's target names, matched once: the handler runs it, and the log line names it. */
const routeOf = (routes: readonly RouteDefinition[], method: string | undefined, target: RequestTarget): RouteMatch =>
  matchRoute(routes, method ?? 'GET', target.pathAndQuery.split('?')[0]!);

/**
 * What the log line names of a request's target: the route it matched, as its template (`/models/{model}/records/{id}`),
 * as a stage's access log does, or null for none. Never the path itself, which holds record ids (an e-mail address is
 * one) and whatever a client put there, a key included.
 */
const loggedRoute = (match: RouteMatch): string | null => (match.kind === 'not_found' ? null : match.route.path);

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
export type TokenAuthorizer = (event: APIGatewayTokenAuthorizerEvent, context: Context) => Promise<APIGatewayAuthorizerResult>;

export interface LocalGatewayOptions {
  readonly routes: readonly RouteDefinition[];
  /** Loads the handler of a route's entry (the same file the stack bundles). */
  readonly loadHandler: (entry: string) => Promise<ProxyHandler>;
  readonly authorizer: TokenAuthorizer;
  /** @default 60, the stage default */
  readonly authorizerCacheTtlSeconds?: number;
  /** @default 10 MB, API Gateway's limit */
  readonly maxBodyBytes?: number;
  /** @default 'local' */
  readonly stage?: string;
  /** One line per request; never given the Authorization header. @default no logging */
  readonly log?: (line: Record<string, unknown>) => void;
  /**
   * Every function's timeout, instead of the one the stack sets. The test stack sets a long one: on a loaded CI machine
   * DynamoDB Local can run many times slower than DynamoDB, and a 1,000-item batch would reach its deadline.
   * @default each function's timeout in the stack
   */
  readonly functionTimeoutSeconds?: number;
  /** Each workspace's rate and burst, as a stage's usage plan throttles it. @default no limit (SPEC section 6) */
  readonly workspaceRateLimit?: RateLimit;
}

const apiGatewayMaxBodyBytes = 10 * 1024 * 1024;
/** Lambda's limit on a synchronous response, the function's whole result as JSON (6 MB). */
const lambdaMaxResponseBytes = 6 * 1024 * 1024;
/** Lambda refuses a synchronous invocation whose event exceeds 6 MB; bodies travel base64-encoded, so about 4.4 MB. */
export const lambdaMaxEventBytes = 6 * 1024 * 1024;
const accountId = '000000000000';
const apiId = 'local';

function lambdaContext(functionName: string, requestId: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:${accountId}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Resource patterns compiled once: an authorizer answers the same few patterns for every request. */
const resourcePatterns = new Map<string, RegExp>();

/** Whether an IAM-style resource pattern (with `*` and `?`) matches an ARN. */
function resourceMatches(pattern: string, arn: string): boolean {
  let regex = resourcePatterns.get(pattern);
  if (!regex) {
    regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    if (resourcePatterns.size < 1000) resourcePatterns.set(pattern, regex);
  }
  return regex.test(arn);
}

/** Evaluates the authorizer's policy as API Gateway does: an explicit Deny wins, then an Allow is needed. */
export function policyAllows(result: APIGatewayAuthorizerResult, methodArn: string): boolean {
  let allowed = false;
  for (const statement of result.policyDocument.Statement) {
    const s = statement as { Effect: string; Action?: string | string[]; Resource?: string | string[] };
    const actions = ([] as string[]).concat(s.Action ?? []);
    if (!actions.some((action) => action === '*' || action === 'execute-api:*' || action === 'execute-api:Invoke')) continue;
    const resources = ([] as string[]).concat(s.Resource ?? []);
    if (!resources.some((resource) => resourceMatches(resource, methodArn))) continue;
    if (s.Effect === 'Deny') return false;
    if (s.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

/** Objects without a prototype, so names like `constructor` or `__proto__` are plain keys. */
function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function headerMaps(request: IncomingMessage) {
  const headers = dictionary<string>();
  const multiValueHeaders = dictionary<string[]>();
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    const value = request.rawHeaders[i + 1]!;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { headers, multiValueHeaders };
}

/** A query-string component decoded exactly once (`+` is a space); undefined when its percent-encoding is invalid. */
function decodeQueryComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * The event's query maps, or undefined when a component is not valid percent-encoded UTF-8. URLSearchParams would
 * take `%ZZ` literally and turn each invalid byte into U+FFFD, so `?id=%C3%28`, `?id=%FF%28` and `?id=%80%28` would all
 * name the record `\uFFFD(`, and a DELETE by any of them would delete it.
 */
function queryMaps(search: string) {
  const pairs = encodedPairs(search.slice(1));
  if (pairs.length === 0) return { queryStringParameters: null, multiValueQueryStringParameters: null };
  const single = dictionary<string>();
  const multi = dictionary<string[]>();
  for (const [encodedKey, encodedValue] of pairs) {
    const key = decodeQueryComponent(encodedKey);
    const value = decodeQueryComponent(encodedValue);
    if (key === undefined || value === undefined) return undefined;
    single[key] = value;
    (multi[key] ??= []).push(value);
  }
  return { queryStringParameters: single, multiValueQueryStringParameters: multi };
}

/** How many lines of a header a request has (Node's `headers` keeps one value of some, and joins others). */
function headerLines(request: IncomingMessage, name: string): number {
  let lines = 0;
  for (let i = 0; i < request.rawHeaders.length; i += 2) if (request.rawHeaders[i]!.toLowerCase() === name) lines++;
  return lines;
}

/** A request's target, read once: its path and query (origin form, any fragment dropped), and the host it names. */
interface RequestTarget {
  readonly pathAndQuery: string;
  /** The host (`host:port`, without any `user@`) a target in absolute form names; undefined for any other target. */
  readonly host: string | undefined;
}

const absoluteForm = /^https?:\/\/([^/?#]*)/i;

/**
 * A request target in absolute form (`GET http://host/path`, as a client sends it through a proxy) is taken by its
 * path and query, as RFC 9112 section 3.2.2 has a server do. Split by hand: `new URL` reads a target starting with `//`
 * as a host and throws on one like `//x:abc`. A fragment is the client's own and never part of a request; one sent
 * anyway is dropped, as a URL parser would.
 */
function readTarget(url: string): RequestTarget {
  const absolute = absoluteForm.exec(url);
  const rest = absolute ? url.slice(absolute[0].length) : url;
  const path = absolute && !rest.startsWith('/') ? `/${rest}` : rest;
  const authority = absolute?.[1];
  return { pathAndQuery: path.split('#')[0]!, host: authority?.slice(authority.lastIndexOf('@') + 1) };
}

/**
 * Why the request's Host is refused (RFC 9112 section 3.2: missing in HTTP/1.1, repeated, or invalid), if it is. A
 * target in absolute form names the host itself, which must be one too (section 3.2.2).
 */
function hostHeaderProblem(request: IncomingMessage, target: RequestTarget): string | undefined {
  if (headerLines(request, 'host') > 1) return 'Send one Host header: this request has several';
  const host = request.headers.host;
  if (host === undefined && request.httpVersion === '1.1') return 'An HTTP/1.1 request must have a Host header';
  if (host !== undefined && !parseHostHeader(host)) return 'The Host header must be a host name or address, with an optional port';
  if (target.host === undefined) return undefined;
  const named = parseHostHeader(target.host);
  return named && named.name !== '' ? undefined : 'The request target must name a host, with an optional port';
}

/** Runs `next` once `turn` is answered (or its connection gone); at once when there is no turn to wait for. */
function after(turn: Turn | undefined, next: () => void): void {
  if (turn) void turn.answered.then(next);
  else next();
}

/** One request of a connection, in the order the client sent them (see the server's handler). */
interface Turn {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  /** Settles once its answer is written, or its connection is gone. */
  readonly answered: Promise<void>;
  /** Its handler runs. */
  started: boolean;
  /** It is not to run: its own body was refused (a connection that is ending runs no turn either: `closing`). */
  cancelled: boolean;
}

class BodyTooLarge extends Error {}

/** How much of an oversized body is read and discarded before the connection is cut, so the client can read the 413. */
const drainLimitBytes = 64 * 1024 * 1024;

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > drainLimitBytes) break;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw new BodyTooLarge();
  return Buffer.concat(chunks);
}

/**
 * The HTTP server the gateway (and the local stack's placeholder before it: lib/local/local-stack.ts) answers on, with
 * what both need of Node: an HTTP/1.1 request without a Host is the gateway's to answer in the envelope (Node would
 * answer a bare 400), and a client that half-closes its side after sending (as `nc` and some scripts do) still gets
 * every answer before the connection ends (Node would drop the requests under way, writes included, without a word).
 */
export function createGatewayHttpServer(listener: (request: IncomingMessage, response: ServerResponse) => void): Server {
  const server = createServer({ requireHostHeader: false }, listener);
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  return server;
}

export function createLocalGateway(options: LocalGatewayOptions): Server {
  const stage = options.stage ?? 'local';
  const maxBodyBytes = options.maxBodyBytes ?? apiGatewayMaxBodyBytes;
  const cache = new AuthorizerCache<APIGatewayAuthorizerResult>(options.authorizerCacheTtlSeconds ?? 60);
  const rateLimiter = options.workspaceRateLimit ? new WorkspaceRateLimiter(options.workspaceRateLimit) : undefined;
  // Each function's timeout, worked out once: an override for all, or what the stack gives the function.
  const authorizerTimeoutSeconds = options.functionTimeoutSeconds ?? defaultFunctionTimeoutSeconds;
  const timeoutSecondsOf = new Map(options.routes.map((route) => [route.entry, options.functionTimeoutSeconds ?? functionTimeoutSeconds(route.entry, options.routes)]));
  const handlers = new Map<string, Promise<ProxyHandler>>();
  const handlerFor = (entry: string) => {
    let loaded = handlers.get(entry);
    if (!loaded) {
      loaded = options.loadHandler(entry);
      handlers.set(entry, loaded);
    }
    return loaded;
  };

  const send = (response: ServerResponse, requestId: string, result: APIGatewayProxyResult) => {
    const headers: Record<string, string | string[]> = { 'x-amzn-RequestId': requestId };
    for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers[name] = values.map(String);
    const body = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : Buffer.from(result.body ?? '', 'utf8');
    headers['Content-Length'] = String(body.length);
    response.writeHead(result.statusCode, headers);
    response.end(body);
  };

  /** A gateway response; `message` says more than the type's own, for the DEFAULT_ types, which answer many things. */
  const sendGatewayError = (response: ServerResponse, requestId: string, type: string, statusCode?: number, message?: string) => {
    const definition = gatewayResponse(type);
    send(response, requestId, {
      statusCode: definition.statusCode ?? statusCode ?? 500,
      headers: { 'Content-Type': 'application/json', ...definition.headers },
      body: JSON.stringify(errorEnvelope(definition.code, message ?? definition.message, requestId)),
    });
  };

  /**
   * A Transfer-Encoding refused (lib/local/transfer-encoding.ts): its body's framing is not one to trust, so the answer
   * closes the connection and nothing after it on the connection runs (`closing`). What the client sent is drained
   * meanwhile, so a client still writing its body reads the 400 rather than a reset.
   */
  const refuseTransferEncoding = (request: IncomingMessage, response: ServerResponse, requestId: string, problem: string) => {
    request.resume();
    response.setHeader('Connection', 'close');
    sendGatewayError(response, requestId, 'DEFAULT_4XX', 400, problem);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, requestId: string, requestTarget: RequestTarget, match: RouteMatch): Promise<number> => {
    const method = request.method ?? 'GET';
    // First: every other answer (a bad Host, an unknown route) keeps the connection, whose next request this body's
    // framing would decide.
    const transferProblem = transferEncodingProblem(request);
    if (transferProblem !== undefined) {
      refuseTransferEncoding(request, response, requestId, transferProblem);
      return 400;
    }
    // RFC 9112: a server answers 400 to an HTTP/1.1 request without a Host. Node would too, with a bare 400 of its
    // own, so the server is told not to, and the refusal is answered here in the envelope.
    // The same rule refuses two Host lines, and one that is not a host with an optional port.
    const hostProblem = hostHeaderProblem(request, requestTarget);
    if (hostProblem !== undefined) {
      request.resume();
      sendGatewayError(response, requestId, 'DEFAULT_4XX', 400, hostProblem);
      return 400;
    }
    const target = requestTarget.pathAndQuery;
    const queryAt = target.indexOf('?');
    const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
    const search = queryAt === -1 ? '' : target.slice(queryAt);
    if (match.kind === 'not_found') {
      // Drain the body so the connection stays usable.
      request.resume();
      sendGatewayError(response, requestId, 'MISSING_AUTHENTICATION_TOKEN');
      return 404;
    }
    const { route } = match;
    const { headers, multiValueHeaders } = headerMaps(request);
    // A target in absolute form names the host the request is for, which RFC 9112 section 3.2.2 puts in the Host line's
    // place: the handlers see it as API Gateway's would show its own domain.
    if (requestTarget.host !== undefined) {
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() !== 'host') continue;
        delete headers[name];
        delete multiValueHeaders[name];
      }
      headers.Host = requestTarget.host;
      multiValueHeaders.Host = [requestTarget.host];
    }
    const query = queryMaps(search);
    if (query === undefined) {
      request.resume();
      sendGatewayError(response, requestId, 'DEFAULT_4XX', 400, 'The query string is not valid percent-encoded UTF-8');
      return 400;
    }

    let body: Buffer;
    try {
      body = await readBody(request, maxBodyBytes);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      response.setHeader('Connection', 'close');
      sendGatewayError(response, requestId, 'REQUEST_TOO_LARGE');
      return 413;
    }

    const methodArn = `arn:aws:execute-api:local:${accountId}:${apiId}/${stage}/${method}${rawPath}`;
    if (route.scope !== null && methodArnTooLong(stage, method, rawPath)) {
      sendGatewayError(
        response,
        requestId,
        'DEFAULT_4XX',
        414,
        `The path is too long for API Gateway (a protected method's ARN, which holds the path, may be at most ${maxMethodArnBytes} bytes)` +
          // Only a route with an id in its path has a query form; a model name is never this long (a 404 if it were).
          (!route.path.includes('{id}')
            ? ''
            : `: send a long id in the query, ${route.path.endsWith('/customers') ? '/models/account/record/customers?id=<id>' : '/models/{model}/record?id=<id>'}`),
      );
      return 414;
    }
    let authorizerContext: Record<string, unknown> | undefined;
    if (route.scope !== null) {
      const token = request.headers.authorization;
      // Two Authorization lines are two identities: which one counts would be a guess (Node keeps the first line, the
      // event's header map the last), so neither does.
      const lines = headerLines(request, 'authorization');
      if (!token || lines > 1) {
        sendGatewayError(response, requestId, 'UNAUTHORIZED', undefined, lines > 1 ? 'Send one Authorization header: this request has several' : undefined);
        return 401;
      }
      let result = cache.get(token);
      if (!result) {
        try {
          result = await options.authorizer({ type: 'TOKEN', authorizationToken: token, methodArn }, lambdaContext('authorizer', randomUUID(), authorizerTimeoutSeconds));
        } catch (error) {
          if ((error as Error).message === 'Unauthorized') {
            sendGatewayError(response, requestId, 'UNAUTHORIZED');
            return 401;
          }
          // What API Gateway reports for an authorizer that throws anything else (docs/decisions.md).
          sendGatewayError(response, requestId, 'AUTHORIZER_CONFIGURATION_ERROR');
          return 503;
        }
        cache.set(token, result);
      }
      if (!policyAllows(result, methodArn)) {
        sendGatewayError(response, requestId, 'ACCESS_DENIED');
        return 403;
      }
      // The usage plan counts a request once the authorizer has named the workspace's key, before the function runs.
      const workspace = result.context?.workspace;
      if (rateLimiter && typeof workspace === 'string' && !rateLimiter.take(workspace)) {
        sendGatewayError(response, requestId, 'THROTTLED');
        return 429;
      }
      // API Gateway hands context values on as strings, numbers and booleans, with the principal id beside them.
      authorizerContext = { ...result.context, principalId: result.principalId, integrationLatency: 0 };
    }

    const event: APIGatewayProxyEvent = {
      resource: route.path,
      path: rawPath,
      httpMethod: method,
      headers,
      multiValueHeaders,
      ...query,
      pathParameters: match.pathParameters,
      stageVariables: null,
      body: body.length > 0 ? body.toString('base64') : null,
      isBase64Encoded: body.length > 0,
      requestContext: {
        accountId,
        apiId,
        authorizer: authorizerContext,
        protocol: `HTTP/${request.httpVersion}`,
        httpMethod: method,
        identity: { sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: request.headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
        path: `/${stage}${rawPath}`,
        stage,
        requestId,
        requestTimeEpoch: Date.now(),
        resourceId: route.name,
        resourcePath: route.path,
      },
    };

    // The event's size as Lambda counts it (its JSON), without serializing the body: base64 needs no escaping.
    const eventBytes = Buffer.byteLength(JSON.stringify({ ...event, body: '' })) + (event.body === null ? 2 : event.body.length);
    if (eventBytes > lambdaMaxEventBytes) {
      // On AWS, Lambda would refuse this invocation and API Gateway answer a 5xx; the stage's body-size rule
      // (docs/decisions.md) is meant to answer this 413 before. Locally the gateway answers it.
      send(response, requestId, {
        statusCode: 413,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(
          errorEnvelope('payload_too_large', 'The request is larger than one function invocation can carry (6 MB after base64 encoding)', requestId),
        ),
      });
      return 413;
    }

    try {
      const handler = await handlerFor(route.entry);
      const result = await handler(event, lambdaContext(route.name, randomUUID(), timeoutSecondsOf.get(route.entry)!));
      if (!result || typeof result.statusCode !== 'number') throw new Error('The handler returned no proxy response');
      // Lambda refuses a synchronous response over 6 MB, and API Gateway then answers a 5xx. A body under a sixth of
      // that cannot reach it even if every character were escaped as \u00XX, so only larger ones are weighed.
      if (typeof result.body === 'string' && result.body.length * 6 + 64 * 1024 > lambdaMaxResponseBytes && Buffer.byteLength(JSON.stringify(result)) > lambdaMaxResponseBytes) {
        throw new Error(`The handler's response is over Lambda's ${lambdaMaxResponseBytes} bytes`);
      }
      send(response, requestId, result);
      return result.statusCode;
    } catch (error) {
      // A handler that throws or answers nonsense is a 502 from API Gateway: a defect, logged in full.
      options.log?.({ level: 'ERROR', message: 'handler failed', request_id: requestId, error: String((error as Error)?.stack ?? error) });
      sendGatewayError(response, requestId, 'DEFAULT_5XX', 502);
      return 502;
    }
  };

  // Requests a client pipelines on one connection run one after another, as they were sent: Node's parser hands them
  // over at once, and run together a DELETE sent after an upsert could be applied before it (RFC 9112 lets a server
  // run pipelined requests in parallel only when all are safe methods). Each waits for the answer before it to end.
  // A connection's requests not yet answered, in order; none once all are.
  const turnsOf = new WeakMap<Socket, Turn[]>();
  // Connections an answer closes (`Connection: close`, a 413 cut short): RFC 9112 section 9.6 has a server process no
  // request after it, whether it waits for its turn or Node's parser hands it over after that answer.
  const closing = new WeakSet<Socket>();
  const server = createGatewayHttpServer((request, response) => {
    const { socket } = request;
    if (closing.has(socket)) {
      // Not run, not answered: the connection ends once what was written before it is sent.
      request.resume();
      socket.end();
      return;
    }
    let turns = turnsOf.get(socket);
    if (!turns) turnsOf.set(socket, (turns = []));
    const before = turns.at(-1);
    // A request that asks to switch protocols (`Connection: upgrade`) ends what Node's parser reads of the connection:
    // no upgrade is offered, so its answer closes the connection, rather than leave what the client sent after it
    // unanswered until the connection times out.
    if (request.headers.upgrade !== undefined && /\bupgrade\b/i.test(request.headers.connection ?? '')) response.setHeader('Connection', 'close');
    const turn: Turn = {
      request,
      response,
      started: false,
      cancelled: false,
      answered: new Promise<void>((resolve) =>
        response.once('close', () => {
          turns.splice(turns.indexOf(turn), 1);
          if (turns.length === 0) turnsOf.delete(socket);
          if (!response.shouldKeepAlive || /\bclose\b/i.test(String(response.getHeader('connection') ?? ''))) closing.add(socket);
          resolve();
        }),
      ),
    };
    turns.push(turn);
    const start = () => {
      if (turn.cancelled || socket.destroyed || closing.has(socket)) {
        request.resume();
        return;
      }
      turn.started = true;
      serve(request, response);
    };
    after(before, start);
  });
  const serve = (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    const requestId = randomUUID();
    const target = readTarget(request.url ?? '/');
    const match = routeOf(options.routes, request.method, target);
    handle(request, response, requestId, target, match)
      .then((status) => {
        options.log?.({
          level: 'INFO',
          method: request.method,
          route: loggedRoute(match),
          status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          request_id: requestId,
        });
      })
      .catch((error: unknown) => {
        // A client that hangs up mid-request is not a failure of ours.
        if ((error as Error | undefined)?.message === 'aborted' || (error as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET') {
          options.log?.({ level: 'INFO', message: 'client went away', route: loggedRoute(match), request_id: requestId });
          response.destroy();
          return;
        }
        options.log?.({ level: 'ERROR', message: 'gateway failure', request_id: requestId, error: String(error) });
        if (!response.headersSent) sendGatewayError(response, requestId, 'DEFAULT_5XX', 500);
        else response.destroy();
      });
  };
  /** An answer in the envelope written on the socket itself, closing it: for what never becomes a request of ours. */
  const answerOnSocket = (socket: Socket, status: number, type: string, message: string, requestId: string) => {
    const body = JSON.stringify(errorEnvelope(gatewayResponse(type).code, message, requestId));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-amzn-RequestId: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
  // CONNECT asks for a tunnel, which no route of the API is: the answer of a method no route takes, where Node would
  // close the connection without a word.
  server.on('connect', (request: IncomingMessage, socket: Socket) => {
    const requestId = randomUUID();
    options.log?.({ level: 'INFO', method: request.method, route: null, status: 404, request_id: requestId });
    const answer = () => answerOnSocket(socket, 404, 'MISSING_AUTHENTICATION_TOKEN', gatewayResponse('MISSING_AUTHENTICATION_TOKEN').message, requestId);
    // Pipelined after other requests: their answers first, as for any request.
    after(turnsOf.get(socket)?.at(-1), answer);
  });
  // An Expect other than 100-continue: Node's bare 417, in the envelope.
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const requestId = randomUUID();
    const route = loggedRoute(routeOf(options.routes, request.method, readTarget(request.url ?? '/')));
    // A refused Transfer-Encoding first, as in every request: the 417 keeps the connection, the 400 closes it.
    const transferProblem = transferEncodingProblem(request);
    if (transferProblem !== undefined) {
      options.log?.({ level: 'INFO', method: request.method, route, status: 400, request_id: requestId });
      refuseTransferEncoding(request, response, requestId, transferProblem);
      return;
    }
    request.resume();
    options.log?.({ level: 'INFO', method: request.method, route, status: 417, request_id: requestId });
    sendGatewayError(response, requestId, 'DEFAULT_4XX', 417, 'Only Expect: 100-continue is supported');
  });
  // What Node's HTTP parser refuses before any handler runs (headers over 16 KB, a malformed request line or header,
  // conflicting lengths) gets the envelope too, with a request id, instead of Node's bare 400 or 431.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    // Bytes after a request that asked to close the connection (`Connection: close`, or HTTP/1.0): RFC 9112 section 9.6
    // has the server ignore them. That request still gets its answer, and the connection ends after it.
    if (error.code === 'HPE_CLOSED_CONNECTION') return;
    const requestId = randomUUID();
    // Node's own statuses for these, with the envelope's code and a message that says which.
    const [status, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `The request line and headers are over ${Math.round(maxHeaderSize / 1024)} KB`]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'The request took too long to arrive']
          : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
            ? [413, 'The chunk extensions are too large']
            : [400, 'The request is not valid HTTP'];
    options.log?.({ level: 'INFO', message: 'request refused by the HTTP parser', route: null, status, request_id: requestId, error: error.code ?? error.message });
    const answer = () => answerOnSocket(socket, status, status === 413 ? 'REQUEST_TOO_LARGE' : 'DEFAULT_4XX', message, requestId);
    // On a kept-alive connection earlier requests may still be answering or waiting their turn: their answers go first,
    // or the client would read this refusal as one of theirs. But when the error is in the last request's own body (a
    // malformed chunk), that request is the refused one: it is not run, and the refusal is its answer, in its turn; if
    // its handler is already waiting for a body that will never end, the refusal is sent now, and closing the connection
    // ends that wait (as a client that went away).
    const turns = turnsOf.get(socket) ?? [];
    const last = turns.at(-1);
    if (last && !last.request.complete) {
      last.cancelled = true;
      const before = turns.at(-2);
      // Answered already, before its body was read (an unknown route, a refused header): one answer per request, and
      // the connection ends after it.
      if (last.started && last.response.headersSent) after(last, () => socket.end());
      else after(last.started ? undefined : before, answer);
    } else after(last, answer);
  });
  return server;
}
