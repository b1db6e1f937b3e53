/**
 * Workspaces and API keys in the table. A key is stored only as its SHA-256: one item keyed by the hash, for the
 * authorizer's lookup, and one under its workspace, for listing and revoking by token id; both are written in one
 * transaction, so neither exists without the other.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { displayPrefix, generateApiKey, generateTokenId, hashApiKey } from '../auth/api-key.js';
import type { Scope } from '../auth/scopes.js';
import { apiKeyItemKey, workspaceIdPattern, workspaceItemKey } from './keys.js';
import { withErrorMapping } from './map-dynamodb-error.js';

export interface ApiKeyIdentity {
  readonly tokenId: string;
  readonly workspace: string;
  readonly scopes: readonly Scope[];
}

export interface CreatedApiKey extends ApiKeyIdentity {
  /** The secret itself: shown once, never stored. */
  readonly key: string;
}

export class WorkspaceNotFoundError extends Error {}
export class WorkspaceExistsError extends Error {}

export function tokenItemKey(workspace: string, tokenId: string) {
  return { pk: workspaceItemKey(workspace).pk, sk: `T#${tokenId}` };
}

export class ApiKeyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The identity behind a key hash, or undefined for an unknown or revoked key. */
  async findByHash(keyHash: string): Promise<ApiKeyIdentity | undefined> {
    const result = await withErrorMapping(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: apiKeyItemKey(keyHash), ConsistentRead: true })),
    );
    const item = result.Item;
    if (!item || item.revoked_at) return undefined;
    return { tokenId: String(item.token_id), workspace: String(item.workspace), scopes: item.scopes as Scope[] };
  }

  async workspaceExists(workspace: string): Promise<boolean> {
    const result = await withErrorMapping(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: workspaceItemKey(workspace), ConsistentRead: true })),
    );
    return result.Item !== undefined;
  }

  async createWorkspace(workspace: string): Promise<void> {
    if (!workspaceIdPattern.test(workspace)) {
      throw new Error(`Workspace ids are 1 to 63 lower-case letters, digits and dashes, not "${workspace}"`);
    }
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...workspaceItemKey(workspace), workspace, created_at: this.clock().toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') throw new WorkspaceExistsError(`Workspace "${workspace}" already exists`);
      throw error;
    }
  }

  async createApiKey(input: { workspace: string; scopes: readonly Scope[]; name?: string }): Promise<CreatedApiKey> {
    const key = generateApiKey();
    const keyHash = hashApiKey(key);
    const tokenId = generateTokenId();
    const createdAt = this.clock().toISOString();
    const common = { token_id: tokenId, workspace: input.workspace, scopes: [...input.scopes], name: input.name ?? '', created_at: createdAt, prefix: displayPrefix(key) };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: workspaceItemKey(input.workspace),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            { Put: { TableName: this.tableName, Item: { ...apiKeyItemKey(keyHash), ...common }, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName: this.tableName, Item: { ...tokenItemKey(input.workspace, tokenId), ...common, key_hash: keyHash } } },
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') {
        throw new WorkspaceNotFoundError(`Workspace "${input.workspace}" does not exist`);
      }
      throw error;
    }
    return { key, tokenId, workspace: input.workspace, scopes: input.scopes };
  }
}
