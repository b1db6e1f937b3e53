/**
 * A batch stops starting items at its deadline: each item not started answers 503 `unavailable`, "send it again", and
 * is never sent, and an item whose write was refused is not retried past it. The batch service runs here on a stand-in
 * for the record service (no DynamoDB, mocked or real) whose writes each take one second of a fake clock, so where the
 * batch stops is exact. The integration suite (test/integration/dynamodb-faults.test.ts) checks the same over HTTP,
 * with the function's own deadline and DynamoDB Local made slow by the fault proxy.
 */
import { jest } from '@jest/globals';
import { payloadFromJsonObject } from '../../lib/http/parse-body.js';
import { BatchService } from '../../lib/records/batch-service.js';
import { UnavailableError } from '../../lib/records/errors.js';
import type { RecordService } from '../../lib/records/record-service.js';
import { standardModels } from '../../lib/models/standard-models.js';

let clock = 1_800_000_000_000;
const written: string[] = [];
let refuseWrites = false;

/** What the batch asks of the record service; every write takes a second of the clock, counted as it starts. */
const records = {
  model: async () => standardModels.account!,
  writeValidated: async (_workspace: string, _model: unknown, payload: { id: string }) => {
    written.push(payload.id);
    clock += 1000;
    if (refuseWrites) throw new UnavailableError('DynamoDB is throttling this table', 1);
    return 'created' as const;
  },
} as unknown as RecordService;

const service = new BatchService(records, async () => undefined);

/** Runs a batch of new records whose deadline falls `deadlineInMs` after it starts. */
async function run(names: readonly string[], deadlineInMs: number) {
  const results = await service.run({
    workspace: 'w',
    model: 'account',
    body: { records: names.map((name) => ({ name })) },
    toPayload: payloadFromJsonObject,
    deadline: clock + deadlineInMs,
  });
  return results.map((r) => r!).map((r) => ('error' in r ? { index: r.index, id: r.id, error: r.error as Error } : { index: r.index, id: r.id, outcome: r.outcome }));
}

beforeEach(() => {
  written.length = 0;
  refuseWrites = false;
  jest.spyOn(Date, 'now').mockImplementation(() => clock);
});

afterEach(() => jest.restoreAllMocks());

describe('a batch at its deadline', () => {
  const names = Array.from({ length: 40 }, (_, i) => `item-${i}`);

  it('writes every item when the time allows', async () => {
    const results = await run(names, 60_000);
    expect(results.map((r) => r.outcome)).toEqual(names.map(() => 'created'));
    expect(written).toHaveLength(40);
  });

  it('answers the items it did not start with 503 unavailable, in request order, and never sends them', async () => {
    // The deadline falls 2.5 s after the start: items start at 0, 1 s and 2 s, and the fourth finds the time gone.
    const results = await run(names, 2500);
    expect(results.map((r) => r.index)).toEqual(names.map((_, i) => i));
    expect(results.slice(0, 3).map((r) => [r.id, r.outcome])).toEqual([
      ['item-0', 'created'],
      ['item-1', 'created'],
      ['item-2', 'created'],
    ]);
    for (const late of results.slice(3)) {
      expect(late.error).toBeInstanceOf(UnavailableError);
      expect(late.error!.message).toMatch(/not attempted before the time limit; send it again/);
    }
    expect(written).toEqual(['item-0', 'item-1', 'item-2']);
  });

  it('does not retry a refused item past the deadline: it answers its 503 at once', async () => {
    // Every write is refused after the SDK's own retries and takes a second; the deadline falls 2.5 s in.
    refuseWrites = true;
    const results = await run(['only'], 2500);
    expect(results).toEqual([{ index: 0, id: 'only', error: new UnavailableError('DynamoDB is throttling this table') }]);
    // Attempts at 0, 1 s and 2 s started before the deadline; the fourth (a third retry) would have started after it.
    expect(written).toEqual(['only', 'only', 'only']);
  });

  it('retries a refused item while the time allows, up to its own limit', async () => {
    refuseWrites = true;
    const results = await run(['only'], 60_000);
    expect(results).toEqual([{ index: 0, id: 'only', error: new UnavailableError('DynamoDB is throttling this table') }]);
    expect(written).toEqual(['only', 'only', 'only', 'only']);
  });

  it('sends nothing when the deadline has already passed', async () => {
    const results = await run(names, -1);
    expect(results.every((r) => r.error instanceof UnavailableError && /not attempted/.test(r.error.message))).toBe(true);
    expect(written).toHaveLength(0);
  });
});
