/**
 * The RecordStore on DynamoDB: one UpdateItem per upsert (no read before the write), one GetItem per read, one
 * DeleteItem per delete. Conditional-check failures become domain outcomes using the item DynamoDB returns with the
 * failure, so they cost no further read.
 */
import { ConditionalCheckFailedException, ReturnValue, ReturnValuesOnConditionCheckFailure } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { PreconditionFailedError } from '../records/errors.js';
import { recordItemKey, type RecordKey } from './keys.js';
import { withErrorMapping } from './map-dynamodb-error.js';
import type { DeleteCommand as DeleteRecordCommand, RecordStore, StoredRecord, UpsertCommand, UpsertResult } from './record-store.js';
import { buildUpsertExpression, fieldAttributePrefix, recordAttributes } from './upsert-expression.js';

type Item = Record<string, unknown>;

/** Rebuilds a stored record from its item: user fields are the `f_` attributes, everything else is system data. */
export function recordFromItem(key: RecordKey, item: Item): StoredRecord {
  const fields: [string, unknown][] = [];
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(fieldAttributePrefix)) fields.push([name.slice(fieldAttributePrefix.length), value]);
  }
  fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    key,
    version: Number(item[recordAttributes.version]),
    createdAt: String(item[recordAttributes.createdAt]),
    updatedAt: String(item[recordAttributes.updatedAt]),
    // fromEntries defines own properties, so names like `constructor` are stored and returned as plain data.
    fields: Object.fromEntries(fields),
  };
}

/** Caught by class or by name, so a second copy of the SDK in a bundle cannot hide it. */
function isConditionFailure(error: unknown): error is ConditionalCheckFailedException {
  return error instanceof ConditionalCheckFailedException || (error as Error | undefined)?.name === 'ConditionalCheckFailedException';
}

/** The item that came back with a ConditionalCheckFailedException (raw attribute values), if any. */
function itemFromConditionFailure(error: ConditionalCheckFailedException): Item | undefined {
  return error.Item ? (unmarshall(error.Item as Parameters<typeof unmarshall>[0]) as Item) : undefined;
}

export class DynamoDbRecordStore implements RecordStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async upsert(command: UpsertCommand): Promise<UpsertResult> {
    const expression = buildUpsertExpression({
      set: command.set,
      unset: command.unset,
      id: command.key.id,
      now: command.now,
      ...(command.ifMatch !== undefined ? { ifMatch: command.ifMatch } : {}),
      ...(command.createOnly ? { createOnly: true } : {}),
    });
    try {
      const result = await withErrorMapping(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: recordItemKey(command.key),
            UpdateExpression: expression.UpdateExpression,
            ConditionExpression: expression.ConditionExpression,
            ExpressionAttributeNames: expression.ExpressionAttributeNames,
            ExpressionAttributeValues: expression.ExpressionAttributeValues,
            ReturnValues: ReturnValue.ALL_NEW,
            ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure.ALL_OLD,
          }),
        ),
      );
      const record = recordFromItem(command.key, result.Attributes ?? {});
      // The version starts at 1 only when the item did not exist before this write.
      return { outcome: record.version === 1 ? 'created' : 'updated', record };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = itemFromConditionFailure(error);
      if (command.createOnly) {
        throw new PreconditionFailedError('The record already exists (If-None-Match: *)');
      }
      if (!old) {
        // Without If-Match the condition can only fail on an existing item; with it, the record is gone.
        throw new PreconditionFailedError('The record does not exist, so it cannot match If-Match');
      }
      const stored = recordFromItem(command.key, old);
      if (command.ifMatch !== undefined && stored.version !== command.ifMatch) {
        throw new PreconditionFailedError(`The record is at version ${stored.version}, not ${command.ifMatch}`);
      }
      // The condition failed because the write would change nothing: the stored record is the answer.
      return { outcome: 'unchanged', record: stored };
    }
  }

  async get(key: RecordKey): Promise<StoredRecord | undefined> {
    const result = await withErrorMapping(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: recordItemKey(key), ConsistentRead: true })),
    );
    return result.Item ? recordFromItem(key, result.Item) : undefined;
  }

  async delete(command: DeleteRecordCommand): Promise<boolean> {
    const names: Record<string, string> = { '#_pk': 'pk' };
    const values: Record<string, unknown> = {};
    let condition = 'attribute_exists(#_pk)';
    if (command.ifMatch !== undefined) {
      names['#_v'] = recordAttributes.version;
      values[':_expected'] = command.ifMatch;
      condition += ' AND #_v = :_expected';
    }
    try {
      await withErrorMapping(() =>
        this.client.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: recordItemKey(command.key),
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
            ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure.ALL_OLD,
          }),
        ),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = itemFromConditionFailure(error);
      if (!old) {
        // Nothing to delete. With If-Match that is a failed precondition, as for an upsert (RFC 9110).
        if (command.ifMatch !== undefined) throw new PreconditionFailedError('The record does not exist, so it cannot match If-Match');
        return false;
      }
      const version = Number(old[recordAttributes.version]);
      throw new PreconditionFailedError(`The record is at version ${version}, not ${command.ifMatch}`);
    }
  }

  async exists(key: RecordKey): Promise<boolean> {
    const result = await withErrorMapping(() =>
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: recordItemKey(key),
          ProjectionExpression: '#_pk',
          ExpressionAttributeNames: { '#_pk': 'pk' },
          ConsistentRead: true,
        }),
      ),
    );
    return result.Item !== undefined;
  }
}
