/**
 * The scheduled end-to-end test: EventBridge Scheduler invokes it at the stage's rate; it reads its API key from
 * Secrets Manager (SMOKE_SECRET_ARN, cached 5 minutes), runs the scenario against the stage's own URL
 * (SMOKE_BASE_URL), and publishes `SmokeSuccess` (1 or 0), each step's duration and `SmokeLeftovers` (the records its
 * clean-up could not delete) as metrics; `SmokeSuccess` drives an alarm.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { requireEnv } from '../lib/config.js';
import { logger, metrics } from '../lib/http/observability.js';
import { runScenario, type ScenarioResult } from '../lib/smoke/scenario.js';

const baseUrl = requireEnv('SMOKE_BASE_URL');
const secretArn = requireEnv('SMOKE_SECRET_ARN');

/** Time kept back from the function's timeout to publish the metrics and the log line whatever happened. */
const reportMarginMs = 5000;
/**
 * Time kept back from the steps for the clean-up: a run whose steps hang until their deadline still deletes what it
 * made (two DELETEs, a retry after a 429 or 503 included, unless the API itself hangs), instead of leaving records
 * behind every five minutes.
 */
const cleanupReserveMs = 15_000;
/**
 * The longest wait for the key: a Secrets Manager that does not answer would otherwise hold the run until Lambda stops
 * it, and the log would say only "Task timed out" where it can say what did not answer.
 */
const secretWaitMs = 10_000;

/** The key from Secrets Manager, or an error that says it did not come within `waitMs`. */
async function smokeKey(waitMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Secrets Manager did not answer for the smoke key within ${waitMs} ms`)), waitMs);
  });
  try {
    return await Promise.race([getSecret(secretArn, { maxAge: 300 }), late]);
  } finally {
    clearTimeout(timer);
  }
}

export const handler = async (_event?: unknown, context?: { getRemainingTimeInMillis(): number }): Promise<ScenarioResult> => {
  let result: ScenarioResult;
  try {
    // When the run must be over (epoch ms), its report kept back: the key's wait and the clean-up both end by then.
    const cleanupDeadline = context ? Date.now() + context.getRemainingTimeInMillis() - reportMarginMs : undefined;
    const token = await smokeKey(Math.max(0, Math.min(secretWaitMs, cleanupDeadline === undefined ? Infinity : cleanupDeadline - Date.now())));
    if (typeof token !== 'string' || token.trim() === '') throw new Error('the smoke key secret is empty: store a key in it (docs/operations.md)');
    result = await runScenario({
      baseUrl,
      token: token.trim(),
      ...(cleanupDeadline !== undefined ? { deadline: cleanupDeadline - cleanupReserveMs, cleanupDeadline } : {}),
    });
  } catch (error) {
    logger.error('smoke test could not run', { error: error as Error });
    result = { runId: 'none', ok: false, interrupted: false, steps: [], leftovers: [] };
  }
  metrics.addMetric('SmokeSuccess', MetricUnit.Count, result.ok ? 1 : 0);
  // Records left in the smoke workspace pile up unseen otherwise: the dashboard shows them beside the test's result.
  metrics.addMetric('SmokeLeftovers', MetricUnit.Count, result.leftovers.length);
  for (const step of result.steps) {
    const single = metrics.singleMetric();
    single.addDimension('step', step.name);
    single.addMetric('SmokeStepDuration', MetricUnit.Milliseconds, step.ms);
  }
  metrics.publishStoredMetrics();
  if (result.ok) logger.info('smoke test passed', { run_id: result.runId, steps: result.steps.length });
  else logger.error('smoke test failed', { run_id: result.runId, failed: result.steps.find((s) => !s.ok) });
  if (result.leftovers.length > 0) logger.warn('smoke test left records behind', { run_id: result.runId, leftovers: result.leftovers });
  return result;
};
