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
/**
 * The start of the partition key under which a workspace's model definitions live (`W#<workspace>`, one item per model,
 * sort key `M#<model>`, and the count of their writes, sort key `C#models`: lib/store/model-store.ts). Nothing else is
 * stored in it: the workspace's own item and its keys' listing items are the admin's, in partitions of their own
 * (below), since tables written before the move kept them here (lib/store/workspace-layout-migration.ts moves them).
 */
export const modelDefinitionItemPrefix = 'W#';
/**
 * The partitions the API's functions read or write: records, and model definitions. Their IAM grant is limited to
 * these partition keys (`dynamodb:LeadingKeys`), each action to the ones it is needed in (`tableActions` in
 * lib/routes.ts), so no function but the authorizer can read or change a key item (`K#`),
 * and none at all the admin's items (`WORKSPACES`, `KEYS#`, `T#`); the fault-proxy suite checks that every route stays
 * inside them, and that the admin's commands stay outside them.
 */
export const apiFunctionItemPrefixes = [recordItemPrefix, modelDefinitionItemPrefix] as const;

/** One item per record, so the writes of a bulk sync spread over as many partitions as there are records. */
export function recordItemKey({ workspace, model, id }: RecordKey): ItemKey {
  return { pk: `${recordItemPrefix}${workspace}#${model}#${id}`, sk: recordSortKey };
}

export function modelDefinitionPartition(workspace: string): string {
  return `${modelDefinitionItemPrefix}${workspace}`;
}

/** The registry of workspaces, which `workspace list` reads: the admin's alone, one write per new workspace. */
export const workspaceRegistryPartition = 'WORKSPACES';

/** A workspace's item, in the registry: its creation time and its usage key. */
export function workspaceItemKey(workspace: string): ItemKey {
  return { pk: workspaceRegistryPartition, sk: workspace };
}

/** The partition of a workspace's keys' listing items (`token list`): the admin's alone. */
export function apiKeyListingPartition(workspace: string): string {
  return `KEYS#${workspace}`;
}

export function apiKeyListingKey(workspace: string, tokenId: string): ItemKey {
  return { pk: apiKeyListingPartition(workspace), sk: `T#${tokenId}` };
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
