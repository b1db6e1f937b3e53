/** One log line per request and EMF metrics from the shared middy stack; never a key in either. */
import { jest } from '@jest/globals';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

process.env.POWERTOOLS_METRICS_DISABLED = 'false';
// As Lambda sets it for an on-demand container; Powertools reports no cold start without it.
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
// An operator who switches on Powertools' event logging must still never get a key in the logs: the event holds the
// Authorization header, so the stack must not log events whatever this says (every test that captures output checks
// for the key).
process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
process.env.TABLE_NAME = 'unit-test-table';
process.env.IDEMPOTENCY_TABLE_NAME = 'unit-test-idempotency';
process.env.GATHER_STAGE = 'prod';
const { httpHandler } = await import('../../lib/http/http-handler.js');
const { countBatchItemsRun, markReplayed } = await import('../../lib/http/observability.js');
const { HttpError } = await import('../../lib/http/http-error.js');
const { jsonResponse } = await import('../../lib/http/responses.js');

const key = 'gth_secretsecretsecretsecretsecretsecret12';
function event(method: string, resource: string): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    resource,
    path: resource,
    headers: { Authorization: `Token ${key}`, 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { model: 'account' },
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1', authorizer: { workspace: 'acme', scopes: 'records:read,records:write' } } as never,
  };
}
const context = { functionName: 'fn', awsRequestId: 'aws-1', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

async function capture(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  // Powertools writes ERROR and WARN lines to stderr, the rest to stdout.
  const spies = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }),
  );
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The one line that matches: every request is logged (and each metric flushed) exactly once. */
function onlyLine(out: Record<string, unknown>[], matches: (line: Record<string, unknown>) => boolean): Record<string, unknown> {
  const found = out.filter(matches);
  expect(found).toHaveLength(1);
  return found[0]!;
}
const isRequestLine = (l: Record<string, unknown>) => l.message === 'request';

describe('observability', () => {
  it('logs one line per request with route, workspace, status and latency, and counts upserts', async () => {
    const handler = httpHandler(async () => jsonResponse(201, { ok: true }));
    const out = await capture(() => handler(event('POST', '/models/{model}/records'), context));
    const log = onlyLine(out, isRequestLine);
    expect(log).toMatchObject({ level: 'INFO', route: 'UpsertRecord', workspace: 'acme', status: 201, request_id: 'req-1', service: 'gather' });
    // The Lambda context is on the line too.
    expect(log).toMatchObject({ function_name: 'fn', function_request_id: 'aws-1' });
    expect(typeof log.cold_start).toBe('boolean');
    expect(typeof log.latency_ms).toBe('number');
    const emf = onlyLine(out, (l) => Boolean((l._aws as { CloudWatchMetrics?: unknown } | undefined)?.CloudWatchMetrics) && 'Upserts' in l);
    expect(emf).toMatchObject({ Upserts: 1, service: 'gather', stage: 'prod' });
    // The stage is a dimension of every metric, so stages in one account never add up into one another's alarms.
    const dimensionSets = (emf._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions;
    expect(dimensionSets.flat()).toEqual(expect.arrayContaining(['service', 'stage']));
    // The first request of this module is its container's cold start: Powertools' ColdStart metric, once.
    expect(out.filter((l) => 'ColdStart' in l)).toEqual([expect.objectContaining({ ColdStart: 1, function_name: 'fn' })]);
    const again = await capture(() => handler(event('POST', '/models/{model}/records'), context));
    expect(again.filter((l) => 'ColdStart' in l)).toEqual([]);
    expect(JSON.stringify(out)).not.toContain(key);
  });

  it('logs and counts a request answered before the handler ran (an Idempotency-Key replay), as no second write', async () => {
    let handlerRan = false;
    // What lib/http/idempotency.ts does with Powertools' answer to a replay: mark the request, answer from `before`.
    const replaying = httpHandler(
      async () => {
        handlerRan = true;
        return jsonResponse(201, { ok: true });
      },
      { afterIdentity: [{ before: (request) => (markReplayed(request), jsonResponse(201, { stored: true })) }] },
    );
    const out = await capture(() => replaying(event('POST', '/models/{model}/records'), context));
    expect(handlerRan).toBe(false);
    expect(out.filter((l) => l.message === 'request')).toEqual([
      expect.objectContaining({ route: 'UpsertRecord', workspace: 'acme', status: 201, replayed: true, request_id: 'req-1' }),
    ]);
    // A replay wrote nothing: no metric but, when this test runs alone, the container's ColdStart (the first test
    // checks that one), and no warning of an empty flush.
    const emf = out.filter((l) => (l._aws as { CloudWatchMetrics?: unknown } | undefined)?.CloudWatchMetrics && !('ColdStart' in l));
    expect(emf).toEqual([]);
    expect(JSON.stringify(out)).not.toContain('No application metrics');
    expect(JSON.stringify(out)).not.toContain(key);

    // A request the handler answered says nothing of replays, and counts its write.
    const plain = await capture(() => httpHandler(async () => jsonResponse(201, { ok: true }))(event('POST', '/models/{model}/records'), context));
    expect(plain.find((l) => l.message === 'request')).not.toHaveProperty('replayed');
    expect(plain.find((l) => 'Upserts' in l)).toMatchObject({ Upserts: 1 });
  });

  it('adds no metric and no warning for a successful read', async () => {
    const handler = httpHandler(async () => jsonResponse(200, { ok: true }));
    const out = await capture(() => handler(event('GET', '/models/{model}/records'), context));
    expect(onlyLine(out, isRequestLine)).toMatchObject({ route: 'ListRecords', status: 200 });
    // Nothing but, when this test runs alone, the container's ColdStart (the first test checks that one).
    expect(out.filter((l) => (l._aws as { CloudWatchMetrics?: unknown } | undefined)?.CloudWatchMetrics && !('ColdStart' in l))).toEqual([]);
    expect(JSON.stringify(out)).not.toContain('No application metrics');
  });

  it('counts the items a batch ran: every one, or only those a resend continuing a partial answer ran again', async () => {
    const results = JSON.stringify({ results: [{ status: 201 }, { status: 201 }, { status: 503 }] });
    const batch = (ran: number) =>
      httpHandler(async (request) => {
        countBatchItemsRun(request.event, ran);
        return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: results };
      });
    const counted = async (ran: number) =>
      (await capture(() => batch(ran)(event('POST', '/models/{model}/batch'), context))).find((l) => 'BatchItems' in l)?.BatchItems;
    // What the batch function says it ran (functions/batch-records.ts), not the slots of its answer.
    expect(await counted(3)).toBe(3);
    expect(await counted(1)).toBe(1);
  });

  it('counts errors by code', async () => {
    const handler = httpHandler(async () => {
      throw new HttpError(415, 'unsupported_media_type', 'no');
    });
    const out = await capture(() => handler(event('POST', '/models/{model}/records'), context));
    expect(onlyLine(out, isRequestLine)).toMatchObject({ status: 415 });
    expect(onlyLine(out, (l) => 'Errors' in l)).toMatchObject({ Errors: 1, code: 'unsupported_media_type' });
    expect(JSON.stringify(out)).not.toContain(key);
  });

  it('answers a function about to time out with a 504 timeout in the envelope, logged and counted', async () => {
    let finish: () => void = () => undefined;
    const slow = httpHandler(() => new Promise((resolve) => (finish = () => resolve(jsonResponse(200, {})))));
    // 20 ms left: middy gives up 5 ms before Lambda would.
    const almostOut = { ...context, getRemainingTimeInMillis: () => 20 } as Context;
    let response: { statusCode: number; body: string } | undefined;
    const out = await capture(async () => {
      response = await slow(event('GET', '/health'), almostOut);
    });
    finish();
    expect(response!.statusCode).toBe(504);
    expect(JSON.parse(response!.body)).toEqual({ error: { code: 'timeout', message: expect.any(String), request_id: 'req-1' } });
    expect(onlyLine(out, (l) => l.message === 'unhandled error')).toMatchObject({ level: 'ERROR' });
    expect(onlyLine(out, isRequestLine)).toMatchObject({ status: 504 });
    expect(onlyLine(out, (l) => 'Errors' in l)).toMatchObject({ Errors: 1, code: 'timeout' });
    expect(JSON.stringify(out)).not.toContain(key);
  });
});

describe('the request a handler receives', () => {
  it('has lower-case header names, whatever case the client sent', async () => {
    let seen: Readonly<Record<string, string | undefined>> = {};
    const handler = httpHandler(async (request) => {
      seen = request.headers;
      return jsonResponse(200, {});
    });
    const mixed = { ...event('POST', '/models/{model}/records'), headers: { 'CONTENT-Type': 'application/json', 'If-Match': '"3"' } };
    await capture(() => handler(mixed, context));
    expect(seen['content-type']).toBe('application/json');
    expect(seen['if-match']).toBe('"3"');
    expect(Object.keys(seen).every((name) => name === name.toLowerCase())).toBe(true);
  });

  it('is never missing: a middleware that replaces the event makes a logged 500, not a handler without a request', async () => {
    let called = false;
    const handler = httpHandler(
      async () => {
        called = true;
        return jsonResponse(200, {});
      },
      { afterIdentity: [{ before: (request) => void (request.event = { ...request.event }) }] },
    );
    let response: { statusCode: number; body: string } | undefined;
    const out = await capture(async () => {
      response = await handler(event('GET', '/health'), context);
    });
    expect(called).toBe(false);
    expect(response!.statusCode).toBe(500);
    expect(JSON.parse(response!.body)).toMatchObject({ error: { code: 'internal_error' } });
    expect(onlyLine(out, (l) => l.message === 'unhandled error')).toMatchObject({ level: 'ERROR' });
    expect(JSON.stringify(out)).not.toContain(key);
  });

  it('refuses a request with two Authorization lines in any spelling, whichever one the authorizer was given', async () => {
    let handlerRan = false;
    const handler = httpHandler(async () => ((handlerRan = true), jsonResponse(200, {})));
    for (const multiValueHeaders of [{ Authorization: [`Token ${key}`, 'Token gth_other'] }, { Authorization: [`Token ${key}`], authorization: ['Token gth_other'] }]) {
      let response: { statusCode: number; body: string } | undefined;
      await capture(async () => (response = (await handler({ ...event('GET', '/models/{model}/records'), multiValueHeaders }, context)) as { statusCode: number; body: string }));
      expect([response!.statusCode, JSON.parse(response!.body).error.code]).toEqual([401, 'unauthorized']);
    }
    expect(handlerRan).toBe(false);
  });
});
