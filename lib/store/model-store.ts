/**
 * Model definitions in the table: one item per custom model (or per standard model a workspace has extended with typed
 * fields), in the workspace's model-definition partition: pk `W#<workspace>`, sk `M#<model>`.
 */
import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, TransactWriteCommand, type DynamoDBDocumentClient, type PutCommandInput } from '@aws-sdk/lib-dynamodb';
import type { FieldDefinition } from '../models/model-definition.js';
import { modelDefinitionPartition } from './keys.js';
import { cancellationReasons, isConditionFailure, mapDynamoDbError, sendRetryingConflicts, withErrorMapping } from './map-dynamodb-error.js';
import { queryPartition } from './query-partition.js';

export interface StoredModelDefinition {
  readonly name: string;
  readonly uniqueField: string;
  readonly fields: Readonly<Record<string, FieldDefinition>>;
  readonly createdAt: string;
  readonly updatedAt: string;
  /**
   * How many times the definition was written; a write states the revision it replaces, so two concurrent PUTs cannot
   * both succeed on the same read. Undefined for an item written before revisions, or for a definition not yet stored.
   */
  readonly revision?: number;
}

export interface ModelDefinitionStore {
  getModel(workspace: string, name: string): Promise<StoredModelDefinition | undefined>;
  listModels(workspace: string): Promise<StoredModelDefinition[]>;
  /**
   * How many times the workspace's definitions have been written, raised by every {@link putModel}; undefined for a
   * workspace none has been written in since the count was kept. Read it before the definitions it stands for.
   */
  modelsVersion(workspace: string): Promise<number | undefined>;
  /**
   * Writes a definition only if the stored one is still `replaces` (undefined: only if none is stored) and no other
   * definition of the workspace was written since `version` was read; false when another write came first, and nothing
   * was written.
   */
  putModel(workspace: string, model: StoredModelDefinition, replaces: StoredModelDefinition | undefined, version: number | undefined): Promise<boolean>;
  /** True when a definition was deleted. */
  deleteModel(workspace: string, name: string): Promise<boolean>;
}

const modelKey = (workspace: string, name: string) => ({ pk: modelDefinitionPartition(workspace), sk: `M#${name}` });
/**
 * The item that counts the workspace's definition writes, beside the definitions but outside their `M#` prefix: code
 * from before it lists the definitions by that prefix and would read it as a model without fields (a rollback, or a
 * deploy that updates one function before another, answered 500).
 */
const versionKey = (workspace: string) => ({ pk: modelDefinitionPartition(workspace), sk: 'C#models' });
const versionAttribute = 'models_version';
/** How many times a model's delete is sent while a PUT's transaction holds the item (see deleteModel). */
const maxDeleteAttempts = 4;

function fromItem(item: Record<string, unknown>): StoredModelDefinition {
  return {
    name: String(item.name),
    uniqueField: String(item.unique_field),
    fields: item.fields as Record<string, FieldDefinition>,
    createdAt: String(item.created_at),
    updatedAt: String(item.updated_at),
    ...(typeof item.revision === 'number' ? { revision: item.revision } : {}),
  };
}

export class DynamoDbModelStore implements ModelDefinitionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getModel(workspace: string, name: string): Promise<StoredModelDefinition | undefined> {
    const result = await withErrorMapping(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: modelKey(workspace, name), ConsistentRead: true })),
    );
    return result.Item ? fromItem(result.Item) : undefined;
  }

  async listModels(workspace: string): Promise<StoredModelDefinition[]> {
    const items = await withErrorMapping(() => queryPartition(this.client, this.tableName, { pk: modelDefinitionPartition(workspace), skPrefix: 'M#' }));
    return items.map(fromItem);
  }

  async modelsVersion(workspace: string): Promise<number | undefined> {
    const result = await withErrorMapping(() => this.client.send(new GetCommand({ TableName: this.tableName, Key: versionKey(workspace), ConsistentRead: true })));
    const version = result.Item?.[versionAttribute];
    return typeof version === 'number' ? version : undefined;
  }

  /**
   * Writes a model definition if the stored one is still `replaces` (none: the model is new) and the workspace's
   * definitions were not written since `version` was read, in one transaction with the count of their writes. False when
   * another write came first; true when this one happened, also when its answer was lost and the SDK's repeat found it
   * done. The count makes a PUT's check of every definition together (GET /models must fit one answer) hold against
   * concurrent PUTs of other models: each one reads the count before the definitions (consistently, so what it then
   * reads is at least as new), and only one of those that read the same count writes.
   */
  async putModel(workspace: string, model: StoredModelDefinition, replaces: StoredModelDefinition | undefined, version: number | undefined): Promise<boolean> {
    // The stored revision must be the one read; an item from before revisions is matched by its updated_at.
    const condition: Pick<PutCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> =
      replaces === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : replaces.revision !== undefined
          ? // The creation time too: a model deleted and made again restarts at revision 1.
            {
              ConditionExpression: '#r = :r AND #c = :c',
              ExpressionAttributeNames: { '#r': 'revision', '#c': 'created_at' },
              ExpressionAttributeValues: { ':r': replaces.revision, ':c': replaces.createdAt },
            }
          : {
              ConditionExpression: 'attribute_not_exists(#r) AND #u = :u',
              ExpressionAttributeNames: { '#r': 'revision', '#u': 'updated_at' },
              ExpressionAttributeValues: { ':u': replaces.updatedAt },
            };
    const revision = (replaces?.revision ?? 0) + 1;
    // This write's own mark: the SDK's repeat of it carries the same one. Its revision and times cannot tell it from a
    // concurrent PUT's, which can read the same revision and stamp the same millisecond.
    const writeToken = randomUUID();
    const transaction = new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...modelKey(workspace, model.name),
              name: model.name,
              unique_field: model.uniqueField,
              // As a Map: the document client's marshall tells a value's type by its `constructor`, and a model may
              // declare a field named `constructor` (lib/store/dynamodb-record-store.ts, jsonAsMaps).
              fields: new Map(Object.entries(model.fields)),
              created_at: model.createdAt,
              updated_at: model.updatedAt,
              revision,
              write_token: writeToken,
            },
            ...condition,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: { ...versionKey(workspace), [versionAttribute]: (version ?? 0) + 1 },
            ...(version === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': versionAttribute }, ExpressionAttributeValues: { ':v': version } }),
          },
        },
      ],
    });
    try {
      await this.client.send(transaction);
      return true;
    } catch (error) {
      const reasons = cancellationReasons(error);
      // The SDK sends a transaction whose answer was lost again with the same ClientRequestToken, which DynamoDB answers
      // as done for ten minutes (the fault suite's lost answer shows it). Should a repeat still meet the conditions it
      // itself changed, the stored definition carries this write's token, and the write happened. Any other failed
      // condition, or another transaction on the same items at that moment, means another PUT came first.
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed' && isThisWrite(reasons[0].Item, writeToken)) return true;
      if (reasons?.some((reason) => reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict')) return false;
      throw mapDynamoDbError(error);
    }
  }

  /**
   * Conditional, so that of concurrent deletes exactly one finds the definition. (As with a record, a delete whose answer
   * was lost and which the SDK sent again finds nothing: false.)
   */
  async deleteModel(workspace: string, name: string): Promise<boolean> {
    // DynamoDB refuses a plain write to an item a transaction (a PUT of this model) is writing at that moment, and the
    // SDK does not send it again: it is sent again after a short pause.
    const remove = new DeleteCommand({ TableName: this.tableName, Key: modelKey(workspace, name), ConditionExpression: 'attribute_exists(pk)' });
    try {
      await sendRetryingConflicts(() => this.client.send(remove), maxDeleteAttempts);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw mapDynamoDbError(error);
    }
  }
}

/** Whether the item a failed condition returned is the one this write stored (as the SDK returns it, raw or not). */
function isThisWrite(item: Record<string, unknown> | undefined, writeToken: string): boolean {
  const token = item?.write_token as { S?: string } | string | undefined;
  return (typeof token === 'object' && token !== null ? token.S : token) === writeToken;
}
