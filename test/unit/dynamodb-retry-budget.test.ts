/**
 * The DynamoDB client's retries stay inside the budget the function timeouts are sized for (lib/store/dynamodb-client.ts):
 * three attempts, and at most 0.2 s, then 0.4 s of backoff, also after a throttle, where the SDK's own default waits up
 * to 1 s, then 2 s. The waits are read from the client's real retry strategy under fake timers, so nothing here sleeps.
 */
import { jest } from '@jest/globals';
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';
import { createDynamoDbClient, dynamoDbCallBudget, maxBackoffBeforeRetryMs, worstCaseCallMs } from '../../lib/store/dynamodb-client.js';

async function strategyOf(): Promise<RetryStrategyV2> {
  const client = createDynamoDbClient({ endpoint: 'http://127.0.0.1:9' });
  const provider = client.config.retryStrategy as unknown as () => Promise<RetryStrategyV2>;
  return provider();
}

/** The wait before the next attempt, on the fake clock, and the token for it. */
async function retryAfter(strategy: RetryStrategyV2, token: RetryToken, errorType: RetryErrorInfo['errorType']) {
  const start = Date.now();
  const next = strategy.refreshRetryTokenForRetry(token, { errorType });
  await jest.runOnlyPendingTimersAsync();
  const refreshed = await next;
  return { waitedMs: Date.now() - start, token: refreshed };
}

describe('the DynamoDB retry budget', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it.each(['THROTTLING', 'TRANSIENT'] as const)('waits at most 0.2 s, then 0.4 s, after a %s error, and stops after three attempts', async (errorType) => {
    const waits: number[][] = [];
    // Jittered: many draws, so a ceiling above the budget would show.
    for (let draw = 0; draw < 40; draw += 1) {
      const strategy = await strategyOf();
      let token = await strategy.acquireInitialRetryToken('dynamodb');
      const drawn: number[] = [];
      for (let retry = 1; retry < dynamoDbCallBudget.maxAttempts; retry += 1) {
        const result = await retryAfter(strategy, token, errorType);
        drawn.push(result.waitedMs);
        token = result.token;
      }
      await expect(strategy.refreshRetryTokenForRetry(token, { errorType })).rejects.toThrow();
      waits.push(drawn);
    }
    for (const drawn of waits) {
      drawn.forEach((ms, i) => expect([i + 1, ms <= maxBackoffBeforeRetryMs(i + 1)]).toEqual([i + 1, true]));
    }
    expect(maxBackoffBeforeRetryMs(1) + maxBackoffBeforeRetryMs(2)).toBe(600);
    expect(worstCaseCallMs).toBe(3 * (1000 + 2000) + 600);
  });
});
