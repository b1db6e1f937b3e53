/**
 * The RecordStore on DynamoDB: one UpdateItem per upsert (no read before the write), one GetItem per read, one
 * DeleteItem per delete. Conditional-check failures become domain outcomes using the item DynamoDB returns with the
 * failure, so they cost no further read.
 *
 * This store, the hot path of every request, talks to the low-level DynamoDBClient and converts values with
 * `@aws-sdk/util-dynamodb` (the same marshall/unmarshall the document client uses, with the same options). The
 * document client wraps each command in a second command and resolves a second middleware stack per call, which cost
 * 0.04 to 0.07 ms per upsert on DynamoDB Local (issue 9, docs/capacity.md). The model and key stores, off the hot
 * path, keep the document client.
 */
import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  DeleteItemCommand,
  GetItemCommand,
  QueryCommand,
  ReturnValue,
  ReturnValuesOnConditionCheckFailure,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type KeysAndAttributes,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { convertToAttr, convertToNative, type marshallOptions } from '@aws-sdk/util-dynamodb';
import { PreconditionFailedError, UnavailableError } from '../records/errors.js';
import { linkPartition, linkSortKey, listPartition, listShardPartition, recordItemKey, type RecordKey } from './keys.js';
import { isConditionFailure, mapDynamoDbError, mayHaveBeenApplied, withErrorMapping } from './map-dynamodb-error.js';
import {
  describeIfMatch,
  versionMatches,
  type DeleteCommand as DeleteRecordCommand,
  type IfMatch,
  type ListCommand,
  type ListPage,
  type ListPosition,
  type RecordStore,
  type StoredRecord,
  type UnconditionalUpsertCommand,
  type UpsertCommand,
  type UpsertOutcome,
  type UpsertResult,
} from './record-store.js';
import { tableDefinition } from './table-definition.js';
import { buildUpsertExpression, fieldAttributePrefix, recordAttributes, versionCondition, isOwnWrite, type SystemAttribute } from './upsert-expression.js';

type RawItem = Record<string, AttributeValue>;

/** As the document client was configured (lib/store/dynamodb-client.ts). */
export const marshalling: marshallOptions = { removeUndefinedValues: true, convertEmptyValues: false };

/**
 * Whether util-dynamodb converts a number plainly in both directions (marshall accepts it, unmarshall gives it back as a
 * number): from -(2^53 - 1) to 2^53 - 1, fractions included. False for NaN (every comparison with it is false) and for
 * the infinities.
 */
function withinSafeIntegerRange(value: number): boolean {
  return value <= Number.MAX_SAFE_INTEGER && value >= Number.MIN_SAFE_INTEGER;
}

/**
 * `marshall(values, marshalling)` of util-dynamodb, with strings and safe numbers written directly: keys, ids,
 * timestamps and index keys are strings, the version's operands and most numeric fields are numbers, and marshall tests
 * a value against every other type first (Set, Map, object, binary, boolean), then turns NaN and both infinities into
 * strings to compare a number's own string with them. Strings cost about 3 us of CPU per upsert that way, numbers 6 us
 * (side-by-side runs of the upsert bundle, both orders; docs/performance-log.md). Every other value, and a number outside
 * JavaScript's safe integers, NaN and the infinities included, goes through util-dynamodb's own conversion, which
 * refuses them as marshall does; objects go to it as Maps ({@link jsonAsMaps}). A property test checks the result
 * equals marshall's (for objects without an own `constructor` key, which marshall mistypes).
 */
export function toRaw(values: object): RawItem {
  const raw: RawItem = {};
  for (const name in values) {
    const value = (values as Record<string, unknown>)[name];
    if (value === undefined || typeof value === 'function') continue;
    if (typeof value === 'string') raw[name] = { S: value };
    else if (typeof value === 'number' && withinSafeIntegerRange(value)) raw[name] = { N: String(value) };
    else raw[name] = convertToAttr(typeof value === 'object' && value !== null ? jsonAsMaps(value) : value, marshalling);
  }
  return raw;
}

/**
 * A JSON value with every object turned into a Map, for util-dynamodb: it tells a value's type by
 * `value.constructor.name`, so a client's object with a key `constructor` of its own (`{"constructor": {"name":
 * "Set"}}`, legal JSON SPEC stores as sent) would be taken for a Set, a Number or nothing it knows, a 500 or a wrong
 * value stored. A Map is always a map (DynamoDB's M, the same attribute a plain object gives).
 */
export function jsonAsMaps(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonAsMaps);
  if (typeof value !== 'object' || value === null || value instanceof Map || value instanceof Set || ArrayBuffer.isView(value)) return value;
  const map = new Map<string, unknown>();
  for (const key of Object.keys(value)) map.set(key, jsonAsMaps((value as Record<string, unknown>)[key]));
  return map;
}

/**
 * How long the read that settles a failed write's outcome may take (see `appliedDespite`), retries included: enough
 * for an answer, short enough that a DynamoDB that stalls still gets its 503 out in time.
 */
const settlingReadBudgetMs = 1000;

/** A stored item's version: 1 only for the write that made the record. */
const versionOf = (item: RawItem) => Number(item[recordAttributes.version]?.N);

/** What a write that left this item did: made the record (version 1), or changed it. */
const outcomeOfWrite = (item: RawItem): 'created' | 'updated' => (versionOf(item) === 1 ? 'created' : 'updated');

/** Whether the item a failed condition returned holds this very upsert's write (its token in the write stamp). */
const isOwnItem = (item: RawItem | undefined, writeToken: string): item is RawItem =>
  item !== undefined && isOwnWrite(item[recordAttributes.writeStamp]?.S, writeToken);

/**
 * Rebuilds a stored record from its item as DynamoDB returns it: user fields are the `f_` attributes, each converted
 * as `unmarshall` converts it (strings and safe numbers read directly, everything else by util-dynamodb's
 * `convertToNative`, which walks the value's entries to find its type); the system values are read as the types they
 * are written with; keys and index attributes are never converted at all. A property test checks it against
 * unmarshall.
 */
export function recordFromItem(key: RecordKey, item: RawItem): StoredRecord {
  const fields: [string, unknown][] = [];
  for (const name of Object.keys(item)) {
    if (name.startsWith(fieldAttributePrefix)) fields.push([name.slice(fieldAttributePrefix.length), nativeValue(item[name]!)]);
  }
  fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const createdAt = String(item[recordAttributes.createdAt]?.S);
  const stamped = String(item[recordAttributes.updatedAt]?.S);
  return {
    key,
    version: versionOf(item),
    createdAt,
    // Each write is stamped before it is sent, so a change stamped before the write that made the record can land
    // after it (concurrent writers, or a container whose clock is behind): it is shown as made when the record was,
    // never before (docs/decisions.md, "updated_at under concurrent writes").
    updatedAt: stamped < createdAt ? createdAt : stamped,
    // fromEntries defines own properties, so names like `constructor` are stored and returned as plain data.
    fields: Object.fromEntries(fields),
  };
}

/**
 * `convertToNative` with strings and safe numbers short-cut. Any other number still goes to it: unmarshall gives one
 * outside the safe integers as a BigInt.
 */
function nativeValue(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) {
    const number = Number(value.N);
    if (withinSafeIntegerRange(number)) return number;
  }
  return convertToNative(value);
}

/** The 412 of an If-Match that names other versions than the stored one. */
function versionMismatch(version: number, ifMatch: IfMatch): PreconditionFailedError {
  return new PreconditionFailedError(`The record is at version ${version}, which If-Match (${describeIfMatch(ifMatch)}) does not name`);
}

/** A record read from an index: its id is the listing sort key, which every record item has. */
function indexedRecord({ workspace, model }: { readonly workspace: string; readonly model: string }, item: RawItem): StoredRecord {
  return recordFromItem({ workspace, model, id: String(item[recordAttributes.listSort]?.S) }, item);
}

/**
 * One page being filled, for both listings: records up to the limit and the byte budget. `take` reports whether more
 * records follow the page than it holds: the record after a full page (each query asks for one more than the page
 * still needs), or one that would take the page past its byte budget, which then starts the next page. It also gives
 * the id of the last record it took from those items, if it took any: where a walk of their partition resumes.
 */
class PageFill {
  readonly records: StoredRecord[] = [];
  private bytes = 0;

  constructor(
    private readonly command: { readonly workspace: string; readonly model: string; readonly limit: number; readonly maxBytes: number; readonly weigh: (record: StoredRecord) => number },
  ) {}

  isFull(): boolean {
    return this.records.length >= this.command.limit;
  }

  /** How many records to ask a query for: what the page still needs, and one to see whether more follow. */
  wanted(): number {
    return this.command.limit - this.records.length + 1;
  }

  take(items: readonly RawItem[]): { readonly more: boolean; readonly lastId?: string } {
    let lastId: string | undefined;
    const taken = (more: boolean) => (lastId === undefined ? { more } : { more, lastId });
    for (const item of items) {
      if (this.isFull()) return taken(true);
      const record = indexedRecord(this.command, item);
      const size = this.command.weigh(record);
      if (this.records.length > 0 && this.bytes + size > this.command.maxBytes) return taken(true);
      this.records.push(record);
      lastId = record.key.id;
      this.bytes += size;
    }
    return taken(false);
  }
}

/**
 * The one UpdateItem of an upsert, without its ReturnValues (exported for `npm run bench`, which sends it raw). It
 * leaves `writeToken` in the item's write stamp (see recordAttributes.writeStamp).
 */
export function upsertRequest(
  tableName: string,
  command: UpsertCommand,
  writeToken: string = randomUUID(),
): Omit<UpdateItemCommandInput, 'ReturnValues' | 'ReturnValuesOnConditionCheckFailure'> {
  const { listPartition: lpk, listSort: lsk, linkPartition: apk, linkSort: ask } = recordAttributes;
  const systemSet: [SystemAttribute, string][] = [
    [lpk, listPartition(command.key)],
    [lsk, command.key.id],
  ];
  const systemRemove: SystemAttribute[] = [];
  if (command.link) systemSet.push([apk, linkPartition(command.link)], [ask, linkSortKey(command.key.model, command.key.id)]);
  else if (command.link === null) systemRemove.push(apk, ask);
  // The builder leaves out an empty names map itself (DynamoDB refuses one), so its expressions are passed on as they are.
  const { changeTest: _changeTest, ExpressionAttributeValues, ...expressions } = buildUpsertExpression({
    systemSet,
    systemRemove,
    set: command.set,
    unset: command.unset,
    now: command.now,
    writeToken,
    ...(command.ifMatch !== undefined ? { ifMatch: command.ifMatch } : {}),
    ...(command.createOnly ? { createOnly: true } : {}),
  });
  return {
    TableName: tableName,
    Key: toRaw(recordItemKey(command.key)),
    ...expressions,
    ExpressionAttributeValues: toRaw(ExpressionAttributeValues),
  };
}

export class DynamoDbRecordStore implements RecordStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /**
   * Sends an upsert's one UpdateItem, leaving `writeToken` in the item; a failed condition returns the stored item with
   * the error, so the caller can tell a repeat of its own applied write (the token) from a true refusal.
   */
  private sendUpsert(command: UpsertCommand, writeToken: string, returnValues: ReturnValue) {
    return this.client.send(
      new UpdateItemCommand({
        ...upsertRequest(this.tableName, command, writeToken),
        ReturnValues: returnValues,
        ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure.ALL_OLD,
      }),
    );
  }

  /**
   * After an upsert's call failed in a way that leaves open whether DynamoDB applied it (`mayHaveBeenApplied`: its
   * answers lost, a timeout, a server error), one read of the item tells: the item holds this upsert's write token
   * only if the write was applied and nothing has changed the record since. Then the upsert is answered as applied,
   * not with a 503 whose retry would find the write done and answer 412 or 200 for a creation. Anything else, the
   * read failing included, leaves the failure as it was.
   */
  private async appliedDespite(error: unknown, key: RecordKey, writeToken: string): Promise<RawItem | undefined> {
    if (!(error instanceof UnavailableError) || !mayHaveBeenApplied(error)) return undefined;
    try {
      const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: toRaw(recordItemKey(key)), ConsistentRead: true }), {
        abortSignal: AbortSignal.timeout(settlingReadBudgetMs),
      });
      return isOwnItem(Item, writeToken) ? Item : undefined;
    } catch {
      return undefined;
    }
  }

  async write(command: UnconditionalUpsertCommand): Promise<UpsertOutcome> {
    const writeToken = command.writeToken ?? randomUUID();
    try {
      // UPDATED_OLD: nothing comes back for a new record, so a create (an import's usual write) transfers and parses no
      // item at all; for an existing one, the old values of what was set, which always include the version.
      const result = await withErrorMapping(() => this.sendUpsert(command, writeToken, ReturnValue.UPDATED_OLD));
      return result.Attributes && Object.keys(result.Attributes).length > 0 ? 'updated' : 'created';
    } catch (error) {
      // Without If-Match or If-None-Match the condition fails only when the write would change nothing: because the
      // record already holds these values, or because this very write was applied by an attempt whose answer was lost
      // (its token in the stamp, as in upsert below), which is reported as what that attempt did.
      if (!isConditionFailure(error)) {
        const applied = await this.appliedDespite(error, command.key, writeToken);
        if (applied) return outcomeOfWrite(applied);
        throw error;
      }
      if (isOwnItem(error.Item, writeToken)) return outcomeOfWrite(error.Item);
      return 'unchanged';
    }
  }

  async upsert(command: UpsertCommand): Promise<UpsertResult> {
    const writeToken = command.writeToken ?? randomUUID();
    try {
      const result = await withErrorMapping(() => this.sendUpsert(command, writeToken, ReturnValue.ALL_NEW));
      const record = recordFromItem(command.key, result.Attributes ?? {});
      // The version starts at 1 only when the item did not exist before this write.
      return { outcome: record.version === 1 ? 'created' : 'updated', record };
    } catch (error) {
      if (!isConditionFailure(error)) {
        const applied = await this.appliedDespite(error, command.key, writeToken);
        if (applied) return { outcome: outcomeOfWrite(applied), record: recordFromItem(command.key, applied) };
        throw error;
      }
      const old = error.Item;
      if (isOwnItem(old, writeToken)) {
        // This very request's write, applied by an attempt whose answer was lost: the SDK sent it again, and the repeat
        // found its own change (If-Match no longer matching, the record existing, nothing left to change). It happened,
        // so it is answered as it would have been: never a 412, and a 201 if it made the record.
        return { outcome: outcomeOfWrite(old), record: recordFromItem(command.key, old) };
      }
      if (command.createOnly && old) {
        throw new PreconditionFailedError('The record already exists (If-None-Match: *)');
      }
      if (!old) {
        // Without If-Match the condition can only fail on an existing item; with it, the record is gone.
        throw new PreconditionFailedError('The record does not exist, so it cannot match If-Match');
      }
      const stored = recordFromItem(command.key, old);
      if (command.ifMatch !== undefined && !versionMatches(command.ifMatch, stored.version)) {
        throw versionMismatch(stored.version, command.ifMatch);
      }
      // The condition failed because the write would change nothing: the stored record is the answer.
      return { outcome: 'unchanged', record: stored };
    }
  }

  async get(key: RecordKey): Promise<StoredRecord | undefined> {
    const result = await withErrorMapping(() =>
      this.client.send(new GetItemCommand({ TableName: this.tableName, Key: toRaw(recordItemKey(key)), ConsistentRead: true })),
    );
    return result.Item ? recordFromItem(key, result.Item) : undefined;
  }

  async delete(command: DeleteRecordCommand): Promise<boolean> {
    const names: Record<string, string> = { '#_pk': 'pk' };
    const values: Record<string, unknown> = {};
    // If-None-Match: * asks to act only when there is no record: then there is nothing to delete either.
    let condition = command.onlyIfAbsent ? 'attribute_not_exists(#_pk)' : 'attribute_exists(#_pk)';
    if (command.ifMatch !== undefined) condition += ` AND ${versionCondition(command.ifMatch, values)}`;
    try {
      await withErrorMapping(() =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: toRaw(recordItemKey(command.key)),
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: toRaw(values) } : {}),
            ReturnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure.ALL_OLD,
          }),
        ),
      );
      // With If-None-Match: * the condition held only because there was no record: nothing was deleted.
      return !command.onlyIfAbsent;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = error.Item;
      if (command.onlyIfAbsent && old) throw new PreconditionFailedError('The record exists, so If-None-Match: * fails');
      if (!old) {
        // Nothing to delete. With If-Match that is a failed precondition, as for an upsert (RFC 9110).
        if (command.ifMatch !== undefined) throw new PreconditionFailedError('The record does not exist, so it cannot match If-Match');
        return false;
      }
      throw versionMismatch(Number(old[recordAttributes.version]?.N), command.ifMatch!);
    }
  }

  /**
   * One page of a model's records, shard by shard. Each query asks for one record more than the page still needs, so a
   * page that fills up knows whether anything follows it: `next` is set only when more records remain (a page exactly
   * as long as what is left ends the walk, instead of leading to an empty page).
   */
  async list(command: ListCommand<ListPosition>): Promise<ListPage<ListPosition>> {
    const page = new PageFill(command);
    let { shard, after } = command.from ?? { shard: 0 };
    while (shard < tableDefinition.listShards) {
      if (page.isFull() && after === undefined) {
        // Full at the end of a shard (a shard part-read asks itself for one more below): the walk goes on only if a
        // later shard holds a record.
        const later = await this.firstShardWithRecords(command.workspace, command.model, shard);
        return later === undefined ? { records: page.records } : { records: page.records, next: { shard: later } };
      }
      const partition = listShardPartition(command.workspace, command.model, shard);
      const result = await this.queryIndex({ index: 'list', partition, ...(after !== undefined ? { after } : {}), limit: page.wanted() });
      const { more, lastId } = page.take(result.items);
      // More records than fit follow: the next page resumes after the last id returned, in this shard.
      after = lastId ?? after;
      if (more) return { records: page.records, next: { shard, ...(after !== undefined ? { after } : {}) } };
      if (!result.more) {
        shard += 1;
        after = undefined;
      }
    }
    return { records: page.records };
  }

  /**
   * The first shard from `from` on whose listing partition holds a record of the model, if any. Records spread evenly
   * over the shards, so in a model of more than a few records the shard `from` holds some and one query of `Limit` 1
   * answers; only when it is empty are the shards after it asked, together, so the answer never takes more than two
   * round trips.
   */
  private async firstShardWithRecords(workspace: string, model: string, from: number): Promise<number | undefined> {
    const holdsRecords = async (shard: number) =>
      (await this.queryIndex({ index: 'list', partition: listShardPartition(workspace, model, shard), limit: 1 })).items.length > 0;
    if (from >= tableDefinition.listShards) return undefined;
    if (await holdsRecords(from)) return from;
    const shards = Array.from({ length: tableDefinition.listShards - from - 1 }, (_, i) => from + 1 + i);
    const found = await Promise.all(shards.map(holdsRecords));
    const index = found.indexOf(true);
    return index === -1 ? undefined : shards[index];
  }

  /** The records that link to one record, one page, with the same look-ahead as {@link list}. */
  async listLinking(command: ListCommand<string> & { readonly target: RecordKey }): Promise<ListPage<string>> {
    const page = new PageFill(command);
    // Sort keys of this model's records are `<model>#<id>`; model names cannot contain `$`, the character after `#`.
    const prefix = linkSortKey(command.model, '');
    let after = command.from;
    for (;;) {
      const result = await this.queryIndex({
        index: 'link',
        partition: linkPartition(command.target),
        between: [after !== undefined ? `${prefix}${after}\u0000` : prefix, `${command.model}$`],
        limit: page.wanted(),
      });
      const { more, lastId } = page.take(result.items);
      after = lastId ?? after;
      if (more) return { records: page.records, ...(after !== undefined ? { next: after } : {}) };
      if (!result.more) return { records: page.records };
    }
  }

  async hasRecords(workspace: string, model: string): Promise<boolean> {
    return (await this.firstShardWithRecords(workspace, model, 0)) !== undefined;
  }

  /** One Query of an index partition in sort-key order: after a key (exclusive) or within a range (inclusive). */
  private async queryIndex(input: {
    index: 'list' | 'link';
    partition: string;
    after?: string;
    between?: readonly [string, string];
    limit: number;
  }): Promise<{ items: RawItem[]; more: boolean }> {
    const list = input.index === 'list';
    const names: Record<string, string> = { '#p': list ? recordAttributes.listPartition : recordAttributes.linkPartition };
    const sortName = list ? recordAttributes.listSort : recordAttributes.linkSort;
    const values: Record<string, unknown> = { ':p': input.partition };
    let condition = '#p = :p';
    if (input.after !== undefined) {
      names['#s'] = sortName;
      values[':after'] = input.after;
      condition += ' AND #s > :after';
    } else if (input.between) {
      names['#s'] = sortName;
      values[':from'] = input.between[0];
      values[':to'] = input.between[1];
      condition += ' AND #s BETWEEN :from AND :to';
    }
    const result = await withErrorMapping(() =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: input.index,
          KeyConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: toRaw(values),
          Limit: Math.max(1, input.limit),
        }),
      ),
    );
    return { items: result.Items ?? [], more: result.LastEvaluatedKey !== undefined };
  }

  async existing(keys: readonly RecordKey[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unique = [...new Map(keys.map((key) => [`${key.workspace}#${key.model}#${key.id}`, key])).values()];
    for (let i = 0; i < unique.length; i += 100) {
      let request: Record<string, KeysAndAttributes> | undefined = {
        [this.tableName]: { Keys: unique.slice(i, i + 100).map((key) => toRaw(recordItemKey(key))), ProjectionExpression: 'pk', ConsistentRead: true },
      };
      for (let attempt = 0; request && Object.keys(request).length > 0; attempt += 1) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        const current: Record<string, KeysAndAttributes> = request;
        const result: BatchGetItemCommandOutput = await withErrorMapping(() => this.client.send(new BatchGetItemCommand({ RequestItems: current })));
        for (const item of result.Responses?.[this.tableName] ?? []) {
          // pk is R#<workspace>#<model>#<id>: the workspace and model have no '#', the id is everything after.
          const [, , model, ...id] = String(item.pk?.S).split('#');
          found.add(`${model}#${id.join('#')}`);
        }
        request = result.UnprocessedKeys;
        if (attempt > 8 && request && Object.keys(request).length > 0) throw mapDynamoDbError(Object.assign(new Error('BatchGetItem kept returning unprocessed keys'), { name: 'ThrottlingException' }));
      }
    }
    return found;
  }

  async exists(key: RecordKey): Promise<boolean> {
    const result = await withErrorMapping(() =>
      this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: toRaw(recordItemKey(key)),
          ProjectionExpression: '#_pk',
          ExpressionAttributeNames: { '#_pk': 'pk' },
          ConsistentRead: true,
        }),
      ),
    );
    return result.Item !== undefined;
  }
}
