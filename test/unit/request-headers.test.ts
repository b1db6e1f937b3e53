/** The request's headers as the handlers read them: lower-cased names, list headers joined, repeats refused. */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { HttpError } from '../../lib/http/http-error.js';
import { readRequestHeaders } from '../../lib/http/request-headers.js';

/** An event as API Gateway builds it: `headers` keeps the last line of each spelling, `multiValueHeaders` every line. */
function event(method: string, lines: ReadonlyArray<readonly [string, string]>): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of lines) {
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { httpMethod: method, headers, multiValueHeaders } as unknown as APIGatewayProxyEvent;
}

/** A route that takes a key (every route but `/health` and `/openapi.json`). */
const scoped = { takesKey: true } as const;

function refusal(run: () => unknown): { status: number; code: string; field?: string } | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { status: error.statusCode, code: error.code, field: error.details?.[0]?.field };
  }
}

describe('readRequestHeaders', () => {
  it('lower-cases every name, keeps the values, and writes the result back to the event for the Idempotency-Key step', () => {
    const sent = event('POST', [['Content-Type', 'application/json'], ['Idempotency-Key', 'k1'], ['X-Forwarded-Proto', 'https'], ['host', 'h']]);
    const headers = readRequestHeaders(sent, scoped);
    expect(headers).toEqual({ 'content-type': 'application/json', 'idempotency-key': 'k1', 'x-forwarded-proto': 'https', host: 'h' });
    expect(sent.headers).toBe(headers);
  });

  it('leaves multiValueHeaders as they came, its lists included', () => {
    const sent = event('DELETE', [['If-Match', '"1"'], ['if-match', '"2"']]);
    const before = structuredClone(sent.multiValueHeaders);
    readRequestHeaders(sent, scoped);
    expect(sent.multiValueHeaders).toEqual(before);
  });

  it('joins a list header sent on several lines, in any spellings, in the order they came (RFC 9110)', () => {
    expect(readRequestHeaders(event('POST', [['If-Match', '"1"'], ['If-Match', '"2"']]), scoped)['if-match']).toBe('"1", "2"');
    expect(readRequestHeaders(event('DELETE', [['If-Match', '"1"'], ['if-match', '*']]), scoped)['if-match']).toBe('"1", *');
    expect(readRequestHeaders(event('POST', [['if-none-match', '*'], ['IF-NONE-MATCH', '*']]), scoped)['if-none-match']).toBe('*, *');
    expect(readRequestHeaders(event('POST', [['Content-Encoding', 'identity'], ['content-encoding', 'gzip']]), scoped)['content-encoding']).toBe('identity, gzip');
  });

  it('reads a header that is not watched as API Gateway kept it: the last spelling wins', () => {
    expect(readRequestHeaders(event('POST', [['X-Thing', 'a'], ['x-thing', 'b']]), scoped)['x-thing']).toBe('b');
  });

  it('refuses two Authorization lines in any spelling with a 401, on reads too', () => {
    for (const method of ['GET', 'POST']) {
      expect(refusal(() => readRequestHeaders(event(method, [['Authorization', 'Token a'], ['Authorization', 'Token b']]), scoped))).toEqual({ status: 401, code: 'unauthorized', field: 'Authorization' });
      expect(refusal(() => readRequestHeaders(event(method, [['Authorization', 'Token a'], ['authorization', 'Token a']]), scoped))).toMatchObject({ status: 401 });
    }
  });

  it('lets a public route (no key) take two Authorization lines: it reads no identity', () => {
    expect(readRequestHeaders(event('GET', [['Authorization', 'Token a'], ['Authorization', 'Token b']]), { takesKey: false }).authorization).toBe('Token b');
  });

  it('refuses a one-value header sent twice with different values on a write, in any spellings', () => {
    expect(refusal(() => readRequestHeaders(event('POST', [['Idempotency-Key', 'a'], ['idempotency-key', 'b']]), scoped))).toEqual({ status: 400, code: 'malformed_header', field: 'idempotency-key' });
    expect(refusal(() => readRequestHeaders(event('PUT', [['Content-Type', 'application/json'], ['Content-Type', 'text/plain']]), scoped))).toMatchObject({ status: 400, field: 'content-type' });
  });

  it('takes a one-value header repeated with the same value, and does not hold reads to the rule', () => {
    expect(readRequestHeaders(event('POST', [['Idempotency-Key', 'a'], ['idempotency-key', 'a']]), scoped)['idempotency-key']).toBe('a');
    expect(readRequestHeaders(event('GET', [['Content-Type', 'a'], ['Content-Type', 'b']]), scoped)['content-type']).toBe('b');
  });

  it('reads events without multiValueHeaders or without headers', () => {
    expect(readRequestHeaders({ httpMethod: 'GET', headers: { Accept: '*/*' }, multiValueHeaders: null } as unknown as APIGatewayProxyEvent, scoped)).toEqual({ accept: '*/*' });
    expect(readRequestHeaders({ httpMethod: 'POST', headers: null, multiValueHeaders: { 'If-Match': ['"1"', '"2"'] } } as unknown as APIGatewayProxyEvent, scoped)).toEqual({ 'if-match': '"1", "2"' });
  });
});
