import { allowPolicy, wholeApiArn } from '../../lib/auth/policy.js';
import { AuthorizerCache } from '../../lib/local/authorizer-cache.js';
import { policyAllows } from '../../lib/local/gateway.js';
import { matchRoute } from '../../lib/local/route-matcher.js';
import { routes } from '../../lib/routes.js';

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
