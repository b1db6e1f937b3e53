/**
 * A batch stops starting items at its deadline (the function's remaining time, less one DynamoDB call's retry budget
 * and a second to answer): each item not started answers 503 `unavailable`, "send it again", and is never sent.
 * DynamoDB is mocked here (aws-sdk-client-mock) only because a DynamoDB slow enough to reach the deadline cannot be
 * had from DynamoDB Local on demand; the clock moves one second with each write, so where the batch stops is exact.
 */
import { jest } from '@jest/globals';
import { DynamoDBClient, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';

process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.TABLE_NAME = 'unit-test-table';
process.env.IDEMPOTENCY_TABLE_NAME = 'unit-test-idempotency';
const { handler } = await import('../../functions/batch-records.js');
const { worstCaseCallMs } = await import('../../lib/store/dynamodb-client.js');
// The event the benchmark sends its upserts in, here to the batch route.
const { authorizedPostEvent } = await import('../../lib/bench/upsert-event.js');

const ddb = mockClient(DynamoDBClient);
// Model definitions are read through the document client: account is built in, so none is stored.
const documents = mockClient(DynamoDBDocumentClient);
let clock = 1_800_000_000_000;
const written: string[] = [];

const batchEvent = (names: readonly string[]) =>
  authorizedPostEvent({
    resource: '/models/{model}/batch',
    model: 'account',
    json: { records: names.map((name) => ({ name })) },
    requestId: 'batch-1',
    workspace: 'w',
    scopes: 'records:write',
  });

/** A context whose remaining time is `msBeyondReserve` more than the batch keeps in reserve: the deadline falls then. */
const contextWith = (msBeyondReserve: number) =>
  ({ functionName: 'batch', awsRequestId: 'aws-1', getRemainingTimeInMillis: () => worstCaseCallMs + 1000 + msBeyondReserve }) as unknown as Context;

async function run(names: readonly string[], msBeyondReserve: number) {
  const response = (await handler(batchEvent(names), contextWith(msBeyondReserve))) as APIGatewayProxyResult;
  return { status: response.statusCode, results: (JSON.parse(response.body) as { results: Record<string, unknown>[] }).results };
}

beforeEach(() => {
  written.length = 0;
  ddb.reset();
  documents.reset();
  documents.on(GetCommand).resolves({});
  ddb.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
    const id = String(input.Key!.pk!.S).split('#').slice(3).join('#');
    written.push(id);
    clock += 1000; // every write takes a second of the function's time
    return {}; // what UpdateItem with UPDATED_OLD answers for a new record
  });
  jest.spyOn(Date, 'now').mockImplementation(() => clock);
});

afterEach(() => jest.restoreAllMocks());

describe('a batch at its deadline', () => {
  const names = Array.from({ length: 40 }, (_, i) => `item-${i}`);

  it('writes every item when the time allows', async () => {
    const { status, results } = await run(names, 60_000);
    expect(status).toBe(200);
    expect(results.map((r) => r.status)).toEqual(names.map(() => 201));
    expect(written).toHaveLength(40);
  });

  it('answers the items it did not start with 503 unavailable, in request order, and never sends them', async () => {
    // The deadline falls 2.5 s after the start: items start at 0, 1 s and 2 s, and the fourth finds the time gone.
    const { status, results } = await run(names, 2500);
    expect(status).toBe(200);
    expect(results.map((r) => r.index)).toEqual(names.map((_, i) => i));
    expect(results.slice(0, 3).map((r) => [r.status, r.id])).toEqual([
      [201, 'item-0'],
      [201, 'item-1'],
      [201, 'item-2'],
    ]);
    for (const late of results.slice(3)) {
      expect(late).toMatchObject({ op: 'upsert', status: 503, error: { code: 'unavailable', message: expect.stringMatching(/not attempted before the time limit; send it again/) } });
    }
    expect(written).toEqual(['item-0', 'item-1', 'item-2']);
  });

  it('does not retry a throttled item past the deadline: it answers 503 at once', async () => {
    // Every write is throttled (after the SDK's own retries, here none) and takes a second; the deadline falls 2.5 s in.
    ddb.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
      written.push(String(input.Key!.pk!.S).split('#').slice(3).join('#'));
      clock += 1000;
      throw Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException', $metadata: {} });
    });
    const { status, results } = await run(['only'], 2500);
    expect(status).toBe(200);
    expect(results).toEqual([expect.objectContaining({ status: 503, error: expect.objectContaining({ code: 'unavailable' }) })]);
    // Attempts at 0, 1 s and 2 s started before the deadline; the fourth (a third retry) would have started after it.
    expect(written).toEqual(['only', 'only', 'only']);
  });

  it('sends nothing when the deadline has already passed', async () => {
    const { results } = await run(names, -1);
    expect(results.every((r) => r.status === 503)).toBe(true);
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});
