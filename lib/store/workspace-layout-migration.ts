/**
 * Moves a workspace's admin items out of its model-definition partition (`W#<workspace>`), where tables written before
 * the move kept them beside the model definitions, within the API functions' IAM grant (docs/data-model.md):
 * - each key's listing item (`W#<workspace>` / `T#<token id>`) to `KEYS#<workspace>` / `T#<token id>`;
 * - then the workspace item (`W#<workspace>` / `W`, which holds the workspace's usage key) onto its registry item
 *   (`WORKSPACES` / `<workspace>`), last, so that its absence means the workspace has nothing left to move.
 * The admin store runs it before anything it does with a workspace whose registry item has no usage key yet (so only
 * for a table written before the move; lib/store/api-key-store.ts, `usageKeyOf`). An operator upgrading a stage has no
 * step to remember, and a workspace nobody administers keeps working as it is: the API functions read neither item,
 * and the authorizer's key items (`K#`) do not move. Each item moves in one transaction (a copy that must be new, and the
 * delete of the old item), so two admin commands running it at once cannot copy an item twice or lose one.
 */
import { GetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { apiKeyListingKey, modelDefinitionPartition, workspaceItemKey } from './keys.js';
import { cancellationCodes } from './map-dynamodb-error.js';
import { queryPartition } from './query-partition.js';

/** Where tables written before the move keep the workspace item. */
export const legacyWorkspaceItemKey = (workspace: string) => ({ pk: modelDefinitionPartition(workspace), sk: 'W' });
/** Where tables written before the move keep a key's listing item. */
export const legacyApiKeyListingKey = (workspace: string, tokenId: string) => ({ pk: modelDefinitionPartition(workspace), sk: `T#${tokenId}` });

/** A transaction that another run of this migration got to first: its item has moved already, or is moving. */
const cancelledByAnotherRun = (error: unknown) =>
  cancellationCodes(error)?.some((code) => code === 'ConditionalCheckFailed' || code === 'TransactionConflict') ?? false;

const attempts = 5;

export async function moveLegacyWorkspaceItems(client: DynamoDBDocumentClient, tableName: string, workspace: string): Promise<void> {
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const legacy = await client.send(new GetCommand({ TableName: tableName, Key: legacyWorkspaceItemKey(workspace), ConsistentRead: true }));
    if (!legacy.Item) return;
    const listings = await queryPartition(client, tableName, { pk: modelDefinitionPartition(workspace), skPrefix: 'T#' });
    try {
      for (const listing of listings) {
        const tokenId = String(listing.sk).slice('T#'.length);
        await client.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: tableName, Item: { ...listing, ...apiKeyListingKey(workspace, tokenId) }, ConditionExpression: 'attribute_not_exists(pk)' } },
              { Delete: { TableName: tableName, Key: legacyApiKeyListingKey(workspace, tokenId), ConditionExpression: 'attribute_exists(pk)' } },
            ],
          }),
        );
      }
      const { usage_key: usageKey, created_at: createdAt } = legacy.Item;
      await client.send(
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
      return;
    } catch (error) {
      // Another admin command is moving the same workspace: look again once it is likely done.
      if (!cancelledByAnotherRun(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
  throw new Error(`Workspace "${workspace}" could not be moved to the current table layout after ${attempts} attempts; run the command again`);
}
