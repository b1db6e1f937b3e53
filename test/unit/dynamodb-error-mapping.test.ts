/**
 * SDK failures to domain outcomes. DynamoDB is mocked here (aws-sdk-client-mock) only because these failures cannot
 * be produced on DynamoDB Local on demand; everything else is tested against DynamoDB Local.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { PreconditionFailedError, RecordTooLargeError, UnavailableError } from '../../lib/records/errors.js';
import { DynamoDbRecordStore } from '../../lib/store/dynamodb-record-store.js';
import { mapDynamoDbError, mayHaveBeenApplied, sendRetryingConflicts } from '../../lib/store/map-dynamodb-error.js';
import { DynamoDbModelStore } from '../../lib/store/model-store.js';

const key = { workspace: 'w', model: 'account', id: 'acme' };
const command = { key, set: [['name', 'acme']] as const, unset: [], now: '2026-12-04T15:00:00.000Z' };
const storedItem = { pk: 'R#w#account#acme', sk: 'R', id: 'acme', v: 3, ca: 'c', ua: 'u', f_name: 'acme', f_size: 5 };

function conditionFailure(item?: Record<string, unknown>) {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(item ? { Item: marshall(item) } : {}) });
}

describe('mapDynamoDbError', () => {
  it('maps throttling, service faults and network failures to UnavailableError', () => {
    expect(mapDynamoDbError(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }))).toBeInstanceOf(UnavailableError);
    expect(mapDynamoDbError(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBeInstanceOf(UnavailableError);
    expect(mapDynamoDbError(Object.assign(new Error('x'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }))).toBeInstanceOf(UnavailableError);
    expect(mapDynamoDbError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeInstanceOf(UnavailableError);
    expect(mapDynamoDbError(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toBeInstanceOf(UnavailableError);
    // A transaction sent again while its first attempt is still in flight: it may yet be applied.
    const inProgress = mapDynamoDbError(Object.assign(new Error('x'), { name: 'TransactionInProgressException', $metadata: { httpStatusCode: 400 } }));
    expect(inProgress).toBeInstanceOf(UnavailableError);
    expect(mayHaveBeenApplied(inProgress as UnavailableError)).toBe(true);
  });
  it('maps a transaction cancelled by throttling or a conflicting transaction to UnavailableError, and one whose condition failed to nothing', () => {
    const cancelled = (...codes: string[]) =>
      new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: { httpStatusCode: 400 }, CancellationReasons: codes.map((Code) => ({ Code })) });
    expect(mapDynamoDbError(cancelled('None', 'ThrottlingError'))).toBeInstanceOf(UnavailableError);
    expect(mapDynamoDbError(cancelled('TransactionConflict', 'None'))).toBeInstanceOf(UnavailableError);
    expect(mapDynamoDbError(cancelled('ProvisionedThroughputExceeded'))).toBeInstanceOf(UnavailableError);
    const conditionFailed = cancelled('ConditionalCheckFailed', 'None');
    expect(mapDynamoDbError(conditionFailed)).toBe(conditionFailed);
  });
  it('maps an item over the size limit to RecordTooLargeError', () => {
    const error = Object.assign(new Error('Item size to update has exceeded the maximum allowed size'), { name: 'ValidationException' });
    expect(mapDynamoDbError(error)).toBeInstanceOf(RecordTooLargeError);
  });
  it('leaves other errors alone: they are defects', () => {
    const error = Object.assign(new Error('Invalid UpdateExpression'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect(mapDynamoDbError(error)).toBe(error);
  });
});

describe('DynamoDbRecordStore outcomes', () => {
  const ddb = mockClient(DynamoDBClient);
  const store = new DynamoDbRecordStore(new DynamoDBClient({ region: 'local' }), 'table');
  beforeEach(() => ddb.reset());

  it('returns the stored record, unchanged, when the change condition fails', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailure(storedItem));
    const result = await store.upsert(command);
    expect(result.outcome).toBe('unchanged');
    expect(result.record.version).toBe(3);
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(1);
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  it('turns an If-Match on another version, or on a missing record, into PreconditionFailedError', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailure(storedItem));
    await expect(store.upsert({ ...command, ifMatch: [2] })).rejects.toBeInstanceOf(PreconditionFailedError);
    ddb.on(UpdateItemCommand).rejects(conditionFailure());
    await expect(store.upsert({ ...command, ifMatch: [2] })).rejects.toBeInstanceOf(PreconditionFailedError);
    ddb.on(UpdateItemCommand).rejects(conditionFailure(storedItem));
    await expect(store.upsert({ ...command, createOnly: true })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('maps throttling that outlasted the retries to UnavailableError', async () => {
    ddb.on(UpdateItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    await expect(store.upsert(command)).rejects.toBeInstanceOf(UnavailableError);
    ddb.on(GetItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    await expect(store.get(key)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('reads the item to settle a failed write only when the write may have been applied, and answers it by its token', async () => {
    const throttled = (attempts: number) => new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { attempts } });
    const reset = (attempts: number) => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: { attempts } });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', $metadata: { attempts: 1 } });
    // One attempt, refused before DynamoDB did anything: nothing can have been applied, so no read.
    for (const error of [throttled(1), refused]) {
      ddb.reset();
      ddb.on(UpdateItemCommand).rejects(error);
      await expect(store.upsert(command)).rejects.toBeInstanceOf(UnavailableError);
      expect(ddb.commandCalls(GetItemCommand)).toHaveLength(0);
    }
    // A lost answer, or several attempts whatever the last one's error: one consistent read, which finds another
    // write's token (the failure stands) ...
    for (const error of [reset(1), throttled(3)]) {
      ddb.reset();
      ddb.on(UpdateItemCommand).rejects(error);
      ddb.on(GetItemCommand).resolves({ Item: marshall({ ...storedItem, pd: '.another-token' }) });
      await expect(store.upsert(command)).rejects.toBeInstanceOf(UnavailableError);
      expect(ddb.commandCalls(GetItemCommand).map((c) => c.args[0].input.ConsistentRead)).toEqual([true]);
    }
    // ... or this write's own: answered as the write it was, for an upsert and a batch write alike.
    ddb.reset();
    ddb.on(UpdateItemCommand).rejects(reset(3));
    ddb.on(GetItemCommand).callsFake(() => {
      const sent = ddb.commandCalls(UpdateItemCommand).at(-1)!.args[0].input.ExpressionAttributeValues!;
      const ownStamp = Object.values(sent).find((v) => v.S?.startsWith('.'))!.S!;
      return Promise.resolve({ Item: marshall({ ...storedItem, v: 1, pd: ownStamp }) });
    });
    expect(await store.upsert(command)).toMatchObject({ outcome: 'created', record: { version: 1 } });
    expect(await store.write(command)).toBe('created');
  });

  it('answers a write without its record whose condition failed as unchanged, from the stored item the failure carries', async () => {
    // Its successes (created, updated) are DynamoDB's own answers, tested against DynamoDB Local (test/integration/batch.test.ts).
    ddb
      .on(UpdateItemCommand)
      .rejectsOnce(conditionFailure(storedItem))
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    expect(await store.write(command)).toBe('unchanged');
    await expect(store.write(command)).rejects.toBeInstanceOf(UnavailableError);
    // Old values only; the stored item only on a refused condition.
    expect(ddb.commandCalls(UpdateItemCommand).map((c) => [c.args[0].input.ReturnValues, c.args[0].input.ReturnValuesOnConditionCheckFailure])).toEqual(
      Array(2).fill(['UPDATED_OLD', 'ALL_OLD']),
    );
  });

  it("reports a write whose condition failed on its own earlier attempt (a lost answer) as what that attempt did", async () => {
    // The stamp the request itself sent is what a stored item holds after its first attempt was applied.
    const ownStamp = () => {
      const values = ddb.commandCalls(UpdateItemCommand).at(-1)!.args[0].input.ExpressionAttributeValues!;
      return Object.values(values).find((v) => v.S?.startsWith('.'))!.S!;
    };
    ddb.on(UpdateItemCommand).callsFake(() => Promise.reject(conditionFailure({ ...storedItem, v: 1, pd: ownStamp() })));
    expect(await store.write(command)).toBe('created');
    ddb.on(UpdateItemCommand).callsFake(() => Promise.reject(conditionFailure({ ...storedItem, v: 4, pd: ownStamp() })));
    expect(await store.write(command)).toBe('updated');
    // Another write's stamp: a true repeat.
    ddb.on(UpdateItemCommand).rejects(conditionFailure({ ...storedItem, v: 1, pd: '.another-token' }));
    expect(await store.write(command)).toBe('unchanged');
  });

  it('deletes: false when absent, PreconditionFailedError on a version mismatch', async () => {
    ddb.on(DeleteItemCommand).rejectsOnce(conditionFailure()).rejectsOnce(conditionFailure(storedItem)).rejectsOnce(conditionFailure());
    expect(await store.delete({ key })).toBe(false);
    await expect(store.delete({ key, ifMatch: [1] })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.delete({ key, ifMatch: [1] })).rejects.toBeInstanceOf(PreconditionFailedError);
  });
});

describe('sendRetryingConflicts', () => {
  const cancelled = (...codes: string[]) =>
    new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: { httpStatusCode: 400 }, CancellationReasons: codes.map((Code) => ({ Code })) });
  const sender = (...failures: Error[]) => {
    let calls = 0;
    const send = async () => {
      calls += 1;
      const failure = failures.shift();
      if (failure) throw failure;
      return 'sent';
    };
    return { send, calls: () => calls };
  };

  it('sends a transaction again while another transaction holds its items, and stops at the first other answer', async () => {
    const conflictOnce = sender(cancelled('TransactionConflict', 'None'));
    expect(await sendRetryingConflicts(conflictOnce.send, 11)).toBe('sent');
    expect(conflictOnce.calls()).toBe(2);
    // A failed condition is an answer, conflict or not: thrown at once, for the caller to read.
    const conditionFailed = sender(cancelled('ConditionalCheckFailed', 'TransactionConflict'));
    await expect(sendRetryingConflicts(conditionFailed.send, 11)).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(conditionFailed.calls()).toBe(1);
  });

  it('throws the last conflict once its attempts are spent', async () => {
    const always = sender(...Array.from({ length: 20 }, () => cancelled('TransactionConflict')));
    await expect(sendRetryingConflicts(always.send, 3)).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(always.calls()).toBe(3);
  });
});

describe('DynamoDbModelStore failures', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const store = new DynamoDbModelStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'local' })), 'table');
  const definition = { name: 'plan', uniqueField: 'sku', fields: { sku: { type: 'string' as const } }, createdAt: 'c', updatedAt: 'u' };
  beforeEach(() => ddb.reset());
  const cancelled = (...reasons: { Code: string; Item?: Record<string, unknown> }[]) =>
    new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: { httpStatusCode: 400 }, CancellationReasons: reasons as never });
  const failsWith = (error: Error) => {
    ddb.reset();
    ddb.on(TransactWriteCommand).rejects(error);
  };

  it("takes a PUT whose transaction failed its condition on the definition this very write stored (a repeat DynamoDB did not recognise) as done", async () => {
    ddb.on(TransactWriteCommand).callsFake((input: { TransactItems: { Put: { Item: { write_token: string } } }[] }) =>
      Promise.reject(cancelled({ Code: 'ConditionalCheckFailed', Item: marshall({ write_token: input.TransactItems[0]!.Put.Item.write_token }) }, { Code: 'ConditionalCheckFailed' })),
    );
    expect(await store.putModel('w', definition, undefined, 3)).toBe(true);
  });

  it('answers false, for the PUT to read again, when another write came first or another transaction held the items', async () => {
    failsWith(cancelled({ Code: 'ConditionalCheckFailed', Item: marshall({ write_token: 'another' }) }, { Code: 'None' }));
    expect(await store.putModel('w', definition, undefined, 3)).toBe(false);
    failsWith(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
    expect(await store.putModel('w', definition, undefined, 3)).toBe(false);
    failsWith(cancelled({ Code: 'TransactionConflict' }, { Code: 'None' }));
    expect(await store.putModel('w', definition, undefined, 3)).toBe(false);
  });

  it('answers 503 for a PUT whose transaction was throttled, and a defect for any other cancellation', async () => {
    failsWith(cancelled({ Code: 'None' }, { Code: 'ThrottlingError' }));
    await expect(store.putModel('w', definition, undefined, 3)).rejects.toBeInstanceOf(UnavailableError);
    failsWith(cancelled({ Code: 'ValidationError' }, { Code: 'None' }));
    await expect(store.putModel('w', definition, undefined, 3)).rejects.toBeInstanceOf(TransactionCanceledException);
  });

  it("sends a model's delete again while a PUT's transaction holds its item, and answers 503 if it keeps doing so", async () => {
    const conflict = () => Object.assign(new Error('Transaction is ongoing for the item'), { name: 'TransactionConflictException', $metadata: { httpStatusCode: 400 } });
    ddb.on(DeleteCommand).rejectsOnce(conflict()).resolvesOnce({});
    expect(await store.deleteModel('w', 'plan')).toBe(true);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(2);
    ddb.reset();
    ddb.on(DeleteCommand).rejects(conflict());
    await expect(store.deleteModel('w', 'plan')).rejects.toBeInstanceOf(UnavailableError);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(4);
  });
});
