import { allowPolicy, wholeApiArn } from '../../lib/auth/policy.js';
import { AuthorizerCache } from '../../lib/local/authorizer-cache.js';
import type { AddressInfo } from 'node:net';
import { createLocalGateway, policyAllows } from '../../lib/local/gateway.js';
import { matchRoute } from '../../lib/local/route-matcher.js';
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
        // Whole seconds, rounded up: the handler reads the remaining time a moment after the gateway set the deadline,
        // and on a loaded machine that moment can be longer than half a second.
        Math.ceil(Number(await (await fetch(`${base}${path}`, { method, headers: { Authorization: 'Token t' }, ...(method === 'POST' ? { body: '{}' } : {}) })).text()) / 1000);
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
