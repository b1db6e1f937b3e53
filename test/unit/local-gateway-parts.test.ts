import { jest } from '@jest/globals';
import { allowPolicy, wholeApiArn } from '../../lib/auth/policy.js';
import { AuthorizerCache } from '../../lib/local/authorizer-cache.js';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import vm from 'node:vm';
import { createLocalGateway, policyAllows } from '../../lib/local/gateway.js';
import { baseUrlOf } from '../../lib/local/local-stack.js';
import { matchRoute } from '../../lib/local/route-matcher.js';
import { transferEncodingProblem } from '../../lib/local/transfer-encoding.js';
import { parseRateLimit, WorkspaceRateLimiter } from '../../lib/local/workspace-rate-limit.js';
import { defaultFunctionTimeoutSeconds, functionTimeoutSeconds, routes } from '../../lib/routes.js';

describe('matchRoute', () => {
  it('matches by method and segments, handing on path parameters as sent', () => {
    const match = matchRoute(routes, 'GET', '/models/account/records/Sterling%20Cooper');
    expect(match).toEqual({ kind: 'matched', route: expect.objectContaining({ name: 'GetRecord' }), pathParameters: { model: 'account', id: 'Sterling%20Cooper' } });
    expect(matchRoute(routes, 'POST', '/models/account/records')).toMatchObject({ kind: 'matched', route: { name: 'UpsertRecord' } });
    expect(matchRoute(routes, 'GET', '/health')).toMatchObject({ kind: 'matched', pathParameters: null });
  });
  it('does not match an encoded slash, an empty segment, or another method', () => {
    expect(matchRoute(routes, 'GET', '/models/account/records/a%2Fb').kind).toBe('not_found');
    expect(matchRoute(routes, 'GET', '/models//records/x').kind).toBe('not_found');
    expect(matchRoute(routes, 'PATCH', '/models/account/records/x').kind).toBe('not_found');
    expect(matchRoute(routes, 'GET', '/models/account/records/x/y').kind).toBe('not_found');
  });
});

describe('the authorizer policy', () => {
  const methodArn = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/models/account/records';

  it('covers the whole API of the stage, so a cached policy serves every route', () => {
    expect(wholeApiArn(methodArn)).toBe('arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*');
    const policy = allowPolicy('tok_1', methodArn, { workspace: 'w' });
    expect(policyAllows(policy, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/DELETE/models/customer/records/x')).toBe(true);
    expect(policyAllows(policy, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/GET/health')).toBe(false);
    expect(policy.context).toEqual({ workspace: 'w' });
  });

  it('lets an explicit Deny win', () => {
    const policy = allowPolicy('tok_1', methodArn, {});
    policy.policyDocument.Statement.push({ Effect: 'Deny', Action: 'execute-api:Invoke', Resource: 'arn:aws:execute-api:*:*:abc123/prod/DELETE/*' } as never);
    expect(policyAllows(policy, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/DELETE/x')).toBe(false);
    expect(policyAllows(policy, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/x')).toBe(true);
  });
});

describe('AuthorizerCache', () => {
  it('keeps an entry for its TTL and no longer', () => {
    let now = 0;
    const cache = new AuthorizerCache<string>(60, () => now);
    cache.set('k', 'v');
    now = 59_999;
    expect(cache.get('k')).toBe('v');
    now = 60_000;
    expect(cache.get('k')).toBeUndefined();
  });
  it('caches nothing with a TTL of 0', () => {
    const cache = new AuthorizerCache<string>(0);
    cache.set('k', 'v');
    expect(cache.get('k')).toBeUndefined();
  });
});

describe("the functions' timeouts", () => {
  // The clock stands still (Date only; the server's own timers and I/O run as usual), so the time a handler is told is
  // left is exactly its timeout, however long this machine takes between the gateway's deadline and the handler.
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame', 'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Each handler answers with the time its context says is left; the authorizer allows everything. */
  async function remainingSeconds(functionTimeoutOverride?: number): Promise<Record<string, number>> {
    const server = createLocalGateway({
      routes,
      loadHandler: async () => async (_event, context) => ({ statusCode: 200, body: String(context.getRemainingTimeInMillis()) }),
      authorizer: async (event) => allowPolicy('p', event.methodArn, { workspace: 'w', scopes: 'records:read,records:write' }),
      ...(functionTimeoutOverride !== undefined ? { functionTimeoutSeconds: functionTimeoutOverride } : {}),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const ask = async (method: string, path: string) =>
        Number(await (await fetch(`${base}${path}`, { method, headers: { Authorization: 'Token t' }, ...(method === 'POST' ? { body: '{}' } : {}) })).text()) / 1000;
      return { health: await ask('GET', '/health'), batch: await ask('POST', '/models/account/batch'), get: await ask('GET', '/models/account/records/x') };
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it('gives each handler the timeout the stack gives its function', async () => {
    expect(functionTimeoutSeconds('functions/batch-records.ts')).toBe(28);
    expect(functionTimeoutSeconds('functions/get-record.ts')).toBe(defaultFunctionTimeoutSeconds);
    expect(await remainingSeconds()).toEqual({ health: 20, batch: 28, get: 20 });
  });
  it('gives every handler the override instead, when one is set', async () => {
    expect(await remainingSeconds(120)).toEqual({ health: 120, batch: 120, get: 120 });
  });
});

describe('the optional per-workspace rate limit (LOCAL_RATE_LIMIT)', () => {
  it('parses <rate>[/<burst>], the burst twice the rate by default, and refuses anything else', () => {
    expect(parseRateLimit('100/200')).toEqual({ rateLimit: 100, burstLimit: 200 });
    expect(parseRateLimit(' 5 ')).toEqual({ rateLimit: 5, burstLimit: 10 });
    for (const bad of ['', ' ', 'ten', '0', '5/0', '-1', '1.5', '5/2/1', '99999999999999999999', '1e3']) expect(() => parseRateLimit(bad)).toThrow(/LOCAL_RATE_LIMIT/);
    expect(parseRateLimit('999999999')).toEqual({ rateLimit: 999_999_999, burstLimit: 1_999_999_998 });
  });

  it('lets a burst through, then refills at the rate, per workspace', () => {
    let now = 0;
    const limiter = new WorkspaceRateLimiter({ rateLimit: 2, burstLimit: 3 }, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, true, false]);
    // Another workspace has a bucket of its own.
    expect(limiter.take('b')).toBe(true);
    now = 499;
    expect(limiter.take('a')).toBe(false);
    now = 500; // one request's worth at 2/s
    expect([limiter.take('a'), limiter.take('a')]).toEqual([true, false]);
    now = 60_000; // never more than the burst
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, true, false]);
  });

  it("answers a workspace over its rate with API Gateway's 429 in the envelope, without running the handler", async () => {
    let handled = 0;
    const server = createLocalGateway({
      routes,
      loadHandler: async () => async () => {
        handled += 1;
        return { statusCode: 200, body: '{}' };
      },
      authorizer: async (event) =>
        allowPolicy('p', event.methodArn, { workspace: event.authorizationToken.endsWith('b') ? 'b' : 'a', scopes: 'records:read' }),
      // A refill too slow to matter however slow this machine is: two requests, then none.
      workspaceRateLimit: { rateLimit: 0.001, burstLimit: 2 },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const get = (token: string) => fetch(`${base}/models/account/records/x`, { headers: { Authorization: token } });
      expect((await get('Token a')).status).toBe(200);
      expect((await get('Token a')).status).toBe(200);
      const refused = await get('Token a');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { error: { code: string; request_id: string } }).error).toMatchObject({ code: 'rate_limited', request_id: expect.any(String) });
      expect(handled).toBe(2);
      // The other workspace is not held back, and public routes are not counted.
      expect((await get('Token b')).status).toBe(200);
      expect((await fetch(`${base}/health`)).status).toBe(200);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('limits nothing unless asked', async () => {
    const server = createLocalGateway({
      routes,
      loadHandler: async () => async () => ({ statusCode: 200, body: '{}' }),
      authorizer: async (event) => allowPolicy('p', event.methodArn, { workspace: 'a', scopes: 'records:read' }),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const statuses = await Promise.all(Array.from({ length: 50 }, () => fetch(`${base}/models/account/records/x`, { headers: { Authorization: 'Token a' } }).then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('the base URL a stack prints', () => {
  it('names localhost for the default host, and brackets an IPv6 address', () => {
    expect(baseUrlOf('127.0.0.1', 3000)).toBe('http://localhost:3000');
    expect(baseUrlOf('0.0.0.0', 3001)).toBe('http://0.0.0.0:3001');
    expect(baseUrlOf('::1', 3002)).toBe('http://[::1]:3002');
    expect(new URL(baseUrlOf('fe80::1', 80)).hostname).toBe('[fe80::1]');
  });
});

describe('transferEncodingProblem', () => {
  const request = (header: string | undefined, httpVersion = '1.1') =>
    ({ headers: header === undefined ? {} : { 'transfer-encoding': header }, httpVersion }) as unknown as IncomingMessage;

  it('takes chunked alone, whatever its case and the spaces and tabs around it, and refuses any other coding', () => {
    for (const header of [undefined, 'chunked', 'Chunked', ' chunked\t', ',chunked', 'chunked ,']) {
      expect([header, transferEncodingProblem(request(header))]).toEqual([header, undefined]);
    }
    for (const [header, named] of [['gzip, chunked', 'gzip'], ['\u00a0, chunked', '\u00a0'], ['chunked\u00a0', 'chunked\u00a0'], ['identity', 'identity']]) {
      expect([header, transferEncodingProblem(request(header))]).toEqual([header, expect.stringContaining(`Transfer-Encoding ${named} is not supported`)]);
    }
    expect(transferEncodingProblem(request('chunked', '1.0'))).toMatch(/HTTP\/1\.0 request cannot carry Transfer-Encoding/);
  });

  it('reads a header of 16 KB of blanks in time linear in its length', () => {
    // A pattern for trailing blanks took the square of a run of blanks inside an element: 180 ms for one 16 KB header,
    // on every request. A hundred such headers run under a watchdog that stops them after 10 s, so the test ends either
    // way (the linear reading takes milliseconds for all of them).
    const header = `x${' \t'.repeat(8000)}x`;
    const outcome = vm.runInNewContext('Array.from({ length: 100 }, () => check(header))[99]', { check: (text: string) => transferEncodingProblem(request(text)), header }, { timeout: 10_000 });
    expect(outcome).toMatch(/is not supported/);
  });
});
