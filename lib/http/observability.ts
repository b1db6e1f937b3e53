/**
 * Structured logs and metrics with Powertools for AWS Lambda: one JSON log line per request (request id, workspace,
 * route, status, latency; never a header, so never a key) and CloudWatch metrics in embedded metric format
 * (namespace `Gather`): `Requests` per request, `Upserts` and `Deletes` per successful write, `BatchItems` per batch
 * item, `Errors` per refused request with the error code as a dimension. POWERTOOLS_LOG_LEVEL and POWERTOOLS_METRICS_DISABLED switch them (the
 * local stack turns metrics off unless asked).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { findRoute } from '../routes.js';

export const logger = new Logger({ serviceName: 'gather' });
export const metrics = new Metrics({ namespace: 'Gather', serviceName: 'gather' });

type Middleware = MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>;

/** What a successful answer counts as, by route. */
const successMetric: Record<string, string> = { UpsertRecord: 'Upserts', DeleteRecord: 'Deletes', DeleteRecordByQuery: 'Deletes' };

export function observabilityMiddlewares(): Middleware[] {
  const started = new WeakMap<object, number>();
  const finish = (request: { event: APIGatewayProxyEvent; response?: APIGatewayProxyResult | null }) => {
    const startedAt = started.get(request);
    const status = request.response?.statusCode ?? 500;
    const route = findRoute(request.event.httpMethod, request.event.resource)?.name ?? 'unknown';
    const authorizer = (request.event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
    logger.info('request', {
      request_id: request.event.requestContext?.requestId,
      workspace: typeof authorizer.workspace === 'string' ? authorizer.workspace : undefined,
      route,
      method: request.event.httpMethod,
      status,
      latency_ms: startedAt !== undefined ? Math.round((performance.now() - startedAt) * 10) / 10 : undefined,
    });
    // Every request that gets here counts, so its flush is never empty. An idempotent replay does not get here: its
    // answer comes from a before step, so middy runs no after step; Powertools flushes the metrics without ours.
    metrics.addMetric('Requests', MetricUnit.Count, 1);
    if (status < 400) {
      const name = successMetric[route];
      if (name) metrics.addMetric(name, MetricUnit.Count, 1);
      if (route === 'BatchRecords' && request.response?.body) {
        const results = (JSON.parse(request.response.body) as { results?: unknown[] }).results ?? [];
        metrics.addMetric('BatchItems', MetricUnit.Count, results.length);
      }
    } else {
      let code = 'unknown';
      try {
        code = (JSON.parse(request.response?.body ?? '{}') as { error?: { code?: string } }).error?.code ?? 'unknown';
      } catch {
        // not the envelope
      }
      const single = metrics.singleMetric();
      single.addDimension('code', code);
      single.addMetric('Errors', MetricUnit.Count, 1);
    }
  };
  return [
    logMetrics(metrics, { captureColdStartMetric: true }) as Middleware,
    {
      before: (request) => {
        // The Lambda context (request id, function, cold start) on every line. Called directly rather than through
        // Powertools' injectLambdaContext middleware, which per request also re-draws the debug-sampling decision,
        // resets appended keys and clears the log buffer (none of which this code uses: no sampling rate, no
        // appendKeys, no buffering), and would log the whole event, Authorization header included, if
        // POWERTOOLS_LOGGER_LOG_EVENT were ever set (SPEC: the key never appears in a log line). About 6 µs less CPU
        // per request, together with the Idempotency-Key step's synchronous path (`npm run bench:cpu`, docs/capacity.md).
        logger.addContext(request.context);
        started.set(request, performance.now());
      },
      after: (request) => finish(request),
      onError: (request) => finish(request),
    },
  ];
}
