/**
 * Moves a workspace's admin items out of its model-definition partition (`W#<workspace>`), where tables written before
 * the move kept them beside the model definitions, within the API functions' IAM grant (docs/data-model.md):
 * - each key's listing item (`W#<workspace>` / `T#<token id>`) to `KEYS#<workspace>` / `T#<token id>`;
 * - then the workspace item (`W#<workspace>` / `W`, which holds the workspace's usage key) onto its registry item
 *   (`WORKSPACES` / `<workspace>`), last, so that its absence means the workspace has nothing left to move.
 * The admin store runs it before anything it does with a workspace whose registry item has no usage key yet (so only
 * for a table written before the move; lib/store/api-key-store.ts, `usageKeyOf`), and `admin workspace migrate` runs
 * it for every workspace. A workspace nobody administers keeps working as it is meanwhile: the API functions read
 * neither item, and the authorizer's key items (`K#`) do not move.
 *
 * Several admin commands may move one workspace at once. Each listing item moves in one transaction (a copy that must
 * be new, and the delete of the old item), so none is copied twice or lost: a run that finds an item's copy already
 * made leaves that copy as it is (it may have been revoked since) and only makes sure the old item is gone, and a run
 * that collides with another's transaction on the same item tries that item again.
 */
import { DeleteCommand, GetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { apiKeyListingKey, modelDefinitionPartition, workspaceItemKey } from './keys.js';
import { cancellationCodes, sendRetryingConflicts } from './map-dynamodb-error.js';
import { queryPartition } from './query-partition.js';

/** Where tables written before the move keep the workspace item. */
const legacyWorkspaceItemKey = (workspace: string) => ({ pk: modelDefinitionPartition(workspace), sk: 'W' });
/** Where tables written before the move keep a key's listing item. */
const legacyApiKeyListingKey = (workspace: string, tokenId: string) => ({ pk: modelDefinitionPartition(workspace), sk: `T#${tokenId}` });

/** How many times one item's move is sent while it collides with another run's transaction on it. */
const moveAttempts = 11;

/**
 * Runs one item's transaction. True when it ran, false when a condition failed (another run moved the item first);
 * a collision with a transaction in flight on the same item is tried again after a random pause.
 */
async function moveOnce(client: DynamoDBDocumentClient, transaction: TransactWriteCommand): Promise<boolean> {
  try {
    await sendRetryingConflicts(() => client.send(transaction), moveAttempts);
    return true;
  } catch (error) {
    if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return false;
    throw error;
  }
}

/** What one run did: the listing items it moved, and those it left because no key of this workspace has them. */
interface WorkspaceMove {
  readonly moved: number;
  readonly skipped: number;
}

export async function moveLegacyWorkspaceItems(client: DynamoDBDocumentClient, tableName: string, workspace: string): Promise<WorkspaceMove> {
  const legacy = await client.send(new GetCommand({ TableName: tableName, Key: legacyWorkspaceItemKey(workspace), ConsistentRead: true }));
  if (!legacy.Item) return { moved: 0, skipped: 0 };
  let moved = 0;
  let skipped = 0;
  for (const listing of await queryPartition(client, tableName, { pk: modelDefinitionPartition(workspace), skPrefix: 'T#' })) {
    const tokenId = String(listing.sk).slice('T#'.length);
    // The API functions could write this partition, so a listing is copied only when the key's own lookup item (`T#`,
    // beyond their reach, written in the same transaction as the key) names this workspace and the same key.
    const lookup = await client.send(new GetCommand({ TableName: tableName, Key: { pk: `T#${tokenId}`, sk: 'T' }, ConsistentRead: true }));
    if (lookup.Item?.workspace !== workspace || lookup.Item.key_hash !== listing.key_hash) {
      skipped += 1;
      continue;
    }
    const copied = await moveOnce(
      client,
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: tableName, Item: { ...listing, ...apiKeyListingKey(workspace, tokenId) }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { Delete: { TableName: tableName, Key: legacyApiKeyListingKey(workspace, tokenId), ConditionExpression: 'attribute_exists(pk)' } },
        ],
      }),
    );
    if (copied) moved += 1;
    // Copied by another run (or the old item is gone already): the copy stands, and the old item must not stay.
    else await client.send(new DeleteCommand({ TableName: tableName, Key: legacyApiKeyListingKey(workspace, tokenId) }));
  }
  const { usage_key: usageKey, created_at: createdAt } = legacy.Item;
  // A failed condition here means another run deleted the old workspace item, having moved it.
  await moveOnce(
    client,
    new TransactWriteCommand({
      TransactItems: [
        {
          // The registry item was written with the workspace; if_not_exists keeps what it holds, and writes it whole
          // should it be missing.
          Update: {
            TableName: tableName,
            Key: workspaceItemKey(workspace),
            UpdateExpression: 'SET #w = if_not_exists(#w, :w), #c = if_not_exists(#c, :c), #u = if_not_exists(#u, :u)',
            ExpressionAttributeNames: { '#w': 'workspace', '#c': 'created_at', '#u': 'usage_key' },
            ExpressionAttributeValues: { ':w': workspace, ':c': createdAt ?? new Date().toISOString(), ':u': usageKey ?? '' },
          },
        },
        { Delete: { TableName: tableName, Key: legacyWorkspaceItemKey(workspace), ConditionExpression: 'attribute_exists(pk)' } },
      ],
    }),
  );
  return { moved, skipped };
}
