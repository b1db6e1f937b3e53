/**
 * The key layout of the one table (docs/data-model.md). Every item has a string partition key `pk` and sort key `sk`.
 * Workspace ids and model names have restricted alphabets without `#`, so the id, which may contain anything, can
 * stand last in a record's key without ambiguity.
 */
import { crc32 } from 'node:zlib';
import { tableDefinition } from './table-definition.js';

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export interface RecordKey {
  readonly workspace: string;
  readonly model: string;
  readonly id: string;
}

export const recordSortKey = 'R';

/** The start of every record item's partition key. */
export const recordItemPrefix = 'R#';
/** The start of every workspace item's partition key (the workspace, and its model definitions under it). */
export const workspaceItemPrefix = 'W#';
/**
 * The partitions the API's functions read or write: records, and the workspace partition that holds the model
 * definitions. Their IAM grant is limited to these partition keys (`dynamodb:LeadingKeys`), so no function but the
 * authorizer can read or change a key item (`K#`) or the admin's `T#` and `WORKSPACES` items; the fault-proxy suite
 * checks that every route stays inside them. IAM cannot narrow by sort key, so the workspace partition's other items,
 * the workspace item (`usage_key`) and the keys' listing items (`T#<token id>`: hash, scopes, name, revocation), stay
 * within the grant though no API function uses them (docs/data-model.md).
 */
export const apiFunctionItemPrefixes = [recordItemPrefix, workspaceItemPrefix] as const;

/** One item per record, so the writes of a bulk sync spread over as many partitions as there are records. */
export function recordItemKey({ workspace, model, id }: RecordKey): ItemKey {
  return { pk: `${recordItemPrefix}${workspace}#${model}#${id}`, sk: recordSortKey };
}

export function workspaceItemKey(workspace: string): ItemKey {
  return { pk: `${workspaceItemPrefix}${workspace}`, sk: 'W' };
}

/** The start of every API key item's partition key: the authorizer's grant is limited to these items. */
export const apiKeyItemPrefix = 'K#';

/** API keys are found by the SHA-256 of the key, never by the key itself. */
export function apiKeyItemKey(keyHash: string): ItemKey {
  return { pk: `${apiKeyItemPrefix}${keyHash}`, sk: 'K' };
}

/** The listing index partition of a record: its workspace and model, and a shard picked by a hash of its id. */
export function listPartition({ workspace, model, id }: RecordKey): string {
  return `${workspace}#${model}#${crc32(id) % tableDefinition.listShards}`;
}

export function listShardPartition(workspace: string, model: string, shard: number): string {
  return `${workspace}#${model}#${shard}`;
}

/** The link index partition of the record a link points at, e.g. `acme#account#Sterling Cooper`. */
export function linkPartition({ workspace, model, id }: RecordKey): string {
  return `${workspace}#${model}#${id}`;
}

/** The link index sort key of the linking record: its model, then its id (`customer#don@sc.com`). */
export function linkSortKey(model: string, id: string): string {
  return `${model}#${id}`;
}

/** Workspace ids: lower-case letters, digits and dashes, 1 to 63 characters, a letter or digit first. */
export const workspaceIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
