/** Every entry the stack deploys exports `handler` (a deployed function whose file exports nothing fails only in AWS). */
import { idempotentHandler } from '../../lib/http/write-handler.js';
import { authorizerEntry, findRoute, routes, scheduledTestEntry } from '../../lib/routes.js';

beforeAll(() => {
  process.env.TABLE_NAME = 'unit-test-table';
  process.env.DYNAMODB_ENDPOINT = 'http://127.0.0.1:9';
  process.env.SMOKE_BASE_URL = 'http://127.0.0.1:9';
  process.env.SMOKE_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:smoke';
});

describe('route entries', () => {
  it.each([...new Set([...routes.map((r) => r.entry), authorizerEntry, scheduledTestEntry])])('%s exports a handler function', async (entry) => {
    const module = (await import(`../../${entry.replace(/\.ts$/, '.js')}`)) as { handler?: unknown };
    expect(typeof module.handler).toBe('function');
  });

  it.each(routes.map((r) => [r.name, r] as const))('%s takes Idempotency-Key exactly when it writes', async (_name, route) => {
    // Write functions are built with writeHandler; read functions without, so their bundles leave the utility out.
    const module = (await import(`../../${route.entry.replace(/\.ts$/, '.js')}`)) as { handler: Record<symbol, unknown> };
    expect(module.handler[idempotentHandler] === true).toBe(route.method !== 'GET');
  });

  it('has unique names and unique method-and-path pairs', () => {
    expect(new Set(routes.map((r) => r.name)).size).toBe(routes.length);
    expect(new Set(routes.map((r) => `${r.method} ${r.path}`)).size).toBe(routes.length);
    for (const route of routes) expect(findRoute(route.method, route.path)).toBe(route);
  });

  it('protects every route but /health and /openapi.json', () => {
    expect(routes.filter((r) => r.scope === null).map((r) => r.path)).toEqual(['/health', '/openapi.json']);
  });
});
