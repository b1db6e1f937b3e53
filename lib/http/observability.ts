/**
 * Structured logs and metrics with Powertools for AWS Lambda: one JSON log line per request (request id, workspace,
 * route, status, latency, and `replayed` when an Idempotency-Key replay answered; never a header, so never a key) and
 * CloudWatch metrics in embedded metric format (namespace `Gather`): `Upserts` and `Deletes` per successful write,
 * `BatchItems` per batch item run (a resend continuing a partial answer counts only those it ran again), `Errors` per
 * refused request with the error code as a dimension, and Powertools' `ColdStart`. POWERTOOLS_LOG_LEVEL and
 * POWERTOOLS_METRICS_DISABLED switch them (the local stack turns metrics off unless asked).
 *
 * Both hang on middy's requestStart and requestEnd hooks, which run around every request whatever answers it: the
 * handler, an error, the early timeout, or a before step. An Idempotency-Key replay is answered by a before step, and
 * middy then runs no after or onError step at all; while logging and metrics were middlewares, a replay wrote no line
 * and counted nothing.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { findRoute } from '../routes.js';
import { requestState } from './request-state.js';

export const logger = new Logger({ serviceName: 'gather' });
// Every metric carries the stage (GATHER_STAGE, set by the stack on every function), so stages that share an account
// and region never add up into one another's alarms and dashboard.
export const metrics = new Metrics({ namespace: 'Gather', serviceName: 'gather', defaultDimensions: { stage: process.env.GATHER_STAGE ?? 'local' } });

/** What a successful answer counts as, by route. */
const successMetric: Record<string, string> = { UpsertRecord: 'Upserts', DeleteRecord: 'Deletes', DeleteRecordByQuery: 'Deletes' };

/** middy's plugin hooks take its Request with no type arguments. */
type HookRequest = Request;

/**
 * What the hooks keep per request (lib/http/request-state.ts): when it started, and whether an Idempotency-Key replay
 * answered it (lib/http/idempotency.ts marks those).
 */
const startedAtKey = 'gather.observability.startedAt';
const replayedKey = 'gather.observability.replayed';

/**
 * The items a batch answered this time, by its event: all of its items (those refused or not started before its
 * deadline included), or, for a resend continuing a partial answer, only those it ran again.
 */
const batchItemsRun = new WeakMap<APIGatewayProxyEvent, number>();

/** Records how many items a batch answered this time: `BatchItems` counts those, without reading the answer again. */
export function countBatchItemsRun(event: APIGatewayProxyEvent, count: number): void {
  batchItemsRun.set(event, count);
}

/** Marks a request answered with the first request's stored answer: its line says so, and it counts as no write. */
export function markReplayed(request: { internal: unknown }): void {
  requestState(request)[replayedKey] = true;
}

export interface ObservabilityHooks {
  readonly requestStart: (request: HookRequest) => void;
  readonly requestEnd: (request: HookRequest) => void;
}

export function observabilityHooks(): ObservabilityHooks {
  return {
    requestStart: (request) => {
      // The Lambda context (request id, function, cold start) on every line. Called directly rather than through
      // Powertools' injectLambdaContext middleware, which per request also re-draws the debug-sampling decision,
      // resets appended keys and clears the log buffer (none of which this code uses: no sampling rate, no
      // appendKeys, no buffering), and would log the whole event, Authorization header included, if
      // POWERTOOLS_LOGGER_LOG_EVENT were ever set (SPEC: the key never appears in a log line). About 6 µs less CPU
      // per request, together with the Idempotency-Key step's synchronous path (`npm run bench:cpu`, docs/performance-log.md).
      logger.addContext(request.context);
      // Emitted once per container, on its first request (Powertools keeps the flag).
      metrics.captureColdStartMetric(request.context.functionName);
      requestState(request)[startedAtKey] = performance.now();
    },
    requestEnd: (request) => {
      const event = request.event as APIGatewayProxyEvent;
      const response = request.response as APIGatewayProxyResult | null | undefined;
      const startedAt = requestState(request)[startedAtKey] as number | undefined;
      const status = response?.statusCode ?? 500;
      const route = findRoute(event.httpMethod, event.resource)?.name ?? 'unknown';
      const authorizer = (event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
      const replayed = requestState(request)[replayedKey] === true;
      logger.info('request', {
        request_id: event.requestContext?.requestId,
        workspace: typeof authorizer.workspace === 'string' ? authorizer.workspace : undefined,
        route,
        method: event.httpMethod,
        status,
        ...(replayed ? { replayed } : {}),
        latency_ms: startedAt !== undefined ? Math.round((performance.now() - startedAt) * 10) / 10 : undefined,
      });
      // A successful write counts; a replay wrote nothing, so it counts no Upserts, Deletes or BatchItems. There is no
      // per-request count: API Gateway's Count and Lambda's Invocations already give it, and with one every read
      // would add a metric and an EMF document to stdout.
      if (status < 400 && !replayed) {
        const name = successMetric[route];
        if (name) metrics.addMetric(name, MetricUnit.Count, 1);
        if (route === 'BatchRecords') metrics.addMetric('BatchItems', MetricUnit.Count, batchItemsRun.get(event) ?? 0);
      } else if (status >= 400) {
        let code = 'unknown';
        try {
          code = (JSON.parse(response?.body ?? '{}') as { error?: { code?: string } }).error?.code ?? 'unknown';
        } catch {
          // not the envelope
        }
        const single = metrics.singleMetric();
        single.addDimension('code', code);
        single.addMetric('Errors', MetricUnit.Count, 1);
      }
      // Flushed only when the request stored a metric: Powertools warns on every empty flush.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}
