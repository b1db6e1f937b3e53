/**
 * Workspaces and API keys in the table (docs/data-model.md). A key is stored only as its SHA-256. Each key has three
 * items, written in one transaction so none exists without the others:
 * - `K#<hash>`: what the authorizer reads (workspace, scopes, revoked_at, last_used_at);
 * - `KEYS#<workspace>` / `T#<token id>`: the key under its workspace, for `token list`;
 * - `T#<token id>`: where `token revoke <token-id>` finds the workspace and the hash.
 * A workspace is one item of a small registry partition (`WORKSPACES`), which `workspace list` reads. None of these is
 * within the API functions' grant. A workspace from a table written before that layout is moved to it
 * (lib/store/workspace-layout-migration.ts) before anything is done with it.
 */
import { BatchGetCommand, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { optionalIntEnv } from '../config.js';
import { displayPrefix, generateApiKey, generateTokenId, hashApiKey, isTokenId, keyPrefix, randomBase62 } from '../auth/api-key.js';
import type { Scope } from '../auth/scopes.js';
import { apiKeyItemKey, apiKeyListingKey, apiKeyListingPartition, workspaceIdPattern, workspaceItemKey, workspaceRegistryPartition } from './keys.js';
import { clipped } from '../terminal-text.js';
import { cancellationCodes, isConditionFailure, withErrorMapping } from './map-dynamodb-error.js';
import { queryPartition } from './query-partition.js';
import { moveLegacyWorkspaceItems } from './workspace-layout-migration.js';

export interface ApiKeyIdentity {
  readonly tokenId: string;
  readonly workspace: string;
  readonly scopes: readonly Scope[];
  /** When the key was last seen by the authorizer (hour precision), if ever. */
  readonly lastUsedAt?: string;
  /** The workspace's usage key: the API Gateway API key value its usage plan throttles by (docs/operations.md). */
  readonly usageKey?: string;
}

export interface CreatedApiKey extends ApiKeyIdentity {
  /** The secret itself: shown once, never stored. */
  readonly key: string;
  /** null for a key made without a name. */
  readonly name: string | null;
  readonly createdAt: string;
  readonly prefix: string;
}

export interface TokenSummary {
  readonly id: string;
  /** null for a key made without a name (an empty name, as keys made without one were stored before, reads as none). */
  readonly name: string | null;
  readonly scopes: readonly Scope[];
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly prefix: string;
  readonly revoked_at: string | null;
}

export interface WorkspaceSummary {
  readonly id: string;
  readonly created_at: string;
}

export interface CreatedWorkspace extends WorkspaceSummary {
  /** The value of the workspace's API Gateway usage key (not a secret that grants access: the gth_ keys do). */
  readonly usageKey: string;
}

/** What kind of failure an AdminError is: `--json` prints it beside the message, for scripts (docs/operations.md). */
export type AdminErrorCode =
  | 'invalid_argument'
  | 'workspace_exists'
  | 'workspace_not_found'
  | 'token_not_found'
  | 'token_already_revoked'
  | 'table_unavailable'
  | 'aws_credentials'
  | 'usage_plan_failed';

/** The admin's mistakes, and what stopped a command, each with a message that says what to do. */
export class AdminError extends Error {
  constructor(
    message: string,
    readonly code: AdminErrorCode = 'invalid_argument',
  ) {
    super(message);
  }
}

/** last_used_at is refreshed at most this often, so a busy key costs no extra write per authorizer call. */
export const lastUsedPrecisionMs = 60 * 60 * 1000;

/**
 * How long recording a key's use may hold up the authorizer, retries included: the request waits for it, and its
 * failure refuses nothing, so a DynamoDB that stalls costs a request this much instead of a call's whole retry budget
 * (about 9.6 s, lib/store/dynamodb-client.ts). An answer takes a few milliseconds. LAST_USED_WRITE_BUDGET_MS changes
 * it for the test stacks, whose DynamoDB Local on a loaded CI machine can take longer than that to answer a write.
 */
const lastUsedWriteBudgetMs = optionalIntEnv('LAST_USED_WRITE_BUDGET_MS', 500);

const tokenLookupKey = (tokenId: string) => ({ pk: `T#${tokenId}`, sk: 'T' });

const invalidWorkspaceId = (workspace: string) =>
  new AdminError(`Workspace ids are 1 to 63 lower-case letters, digits and dashes, starting with a letter or digit; "${clipped(workspace)}" is not one`);

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
    return {
      tokenId: String(item.token_id),
      workspace: String(item.workspace),
      scopes: item.scopes as Scope[],
      ...(item.last_used_at ? { lastUsedAt: String(item.last_used_at) } : {}),
      ...(item.usage_key ? { usageKey: String(item.usage_key) } : {}),
    };
  }

  /** Records that a key was used, unless it was recorded within the last hour (then it costs nothing). */
  async touchLastUsed(keyHash: string, identity: ApiKeyIdentity): Promise<void> {
    const now = this.clock();
    if (identity.lastUsedAt && now.getTime() - Date.parse(identity.lastUsedAt) < lastUsedPrecisionMs) return;
    await withErrorMapping(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: apiKeyItemKey(keyHash),
          UpdateExpression: 'SET #used = :now',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#used': 'last_used_at', '#pk': 'pk' },
          ExpressionAttributeValues: { ':now': now.toISOString() },
        }),
        { abortSignal: AbortSignal.timeout(lastUsedWriteBudgetMs) },
      ),
    );
  }

  async workspaceExists(workspace: string): Promise<boolean> {
    return (await this.usageKeyOf(workspace)) !== undefined;
  }

  /** A workspace's usage key, or undefined when the workspace does not exist. */
  async usageKeyOf(workspace: string): Promise<string | undefined> {
    const item = await this.workspaceItemInCurrentLayout(workspace);
    return item ? String(item.usage_key ?? '') : undefined;
  }

  /**
   * A workspace's registry item, undefined when there is no such workspace. Every command that names a workspace comes
   * through here, so each first moves a workspace of a table written before the current layout (its registry item has
   * no usage key) to that layout.
   */
  private async workspaceItemInCurrentLayout(workspace: string): Promise<Record<string, unknown> | undefined> {
    // An id no workspace can have is said to be one, not to be missing ("" does not exist).
    if (!workspaceIdPattern.test(workspace)) throw invalidWorkspaceId(workspace);
    const item = await this.workspaceItem(workspace);
    if (!item || item.usage_key !== undefined) return item;
    await withErrorMapping(() => moveLegacyWorkspaceItems(this.client, this.tableName, workspace));
    return this.workspaceItem(workspace);
  }

  private async workspaceItem(workspace: string): Promise<Record<string, unknown> | undefined> {
    const result = await withErrorMapping(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: workspaceItemKey(workspace), ConsistentRead: true })),
    );
    return result.Item;
  }

  async createWorkspace(workspace: string): Promise<CreatedWorkspace> {
    if (!workspaceIdPattern.test(workspace)) throw invalidWorkspaceId(workspace);
    const createdAt = this.clock().toISOString();
    const usageKey = `uk_${randomBase62(32)}`;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...workspaceItemKey(workspace), workspace, created_at: createdAt, usage_key: usageKey },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      // A workspace of a table written before the current layout has its registry item too.
      if (isConditionFailure(error)) throw new AdminError(`Workspace "${workspace}" already exists`, 'workspace_exists');
      throw error;
    }
    return { id: workspace, created_at: createdAt, usageKey };
  }

  /**
   * Moves every workspace of a table written before the current layout to it (`admin workspace migrate`): those whose
   * registry item has no usage key. Safe to repeat, and beside other admin commands.
   */
  async moveAllToCurrentLayout(): Promise<{ workspaces: number; moved: number; skipped: number }> {
    const registry = await queryPartition(this.client, this.tableName, { pk: workspaceRegistryPartition });
    const total = { workspaces: 0, moved: 0, skipped: 0 };
    for (const item of registry) {
      if (item.usage_key !== undefined) continue;
      const { moved, skipped } = await withErrorMapping(() => moveLegacyWorkspaceItems(this.client, this.tableName, String(item.sk)));
      total.workspaces += 1;
      total.moved += moved;
      total.skipped += skipped;
    }
    return total;
  }

  async listWorkspaces(): Promise<WorkspaceSummary[]> {
    const items = await queryPartition(this.client, this.tableName, { pk: workspaceRegistryPartition });
    return items.map((item) => ({ id: String(item.workspace), created_at: String(item.created_at) }));
  }

  async createApiKey(input: { workspace: string; scopes: readonly Scope[]; name?: string }): Promise<CreatedApiKey> {
    if (input.scopes.length === 0) throw new AdminError('A key needs at least one scope');
    const key = generateApiKey();
    const keyHash = hashApiKey(key);
    const tokenId = generateTokenId();
    const createdAt = this.clock().toISOString();
    const name = input.name ?? null;
    const usageKey = await this.usageKeyOf(input.workspace);
    if (usageKey === undefined) throw new AdminError(`Workspace "${input.workspace}" does not exist`, 'workspace_not_found');
    const common = { token_id: tokenId, workspace: input.workspace, scopes: [...new Set(input.scopes)], ...(name !== null ? { name } : {}), created_at: createdAt, prefix: displayPrefix(key) };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { ConditionCheck: { TableName: this.tableName, Key: workspaceItemKey(input.workspace), ConditionExpression: 'attribute_exists(pk)' } },
            {
              Put: {
                TableName: this.tableName,
                // The usage key travels with the key, so the authorizer names it without a second read.
                Item: { ...apiKeyItemKey(keyHash), ...common, ...(usageKey ? { usage_key: usageKey } : {}) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.tableName, Item: { ...apiKeyListingKey(input.workspace, tokenId), ...common, key_hash: keyHash } } },
            { Put: { TableName: this.tableName, Item: { ...tokenLookupKey(tokenId), workspace: input.workspace, key_hash: keyHash } } },
          ],
        }),
      );
    } catch (error) {
      if (cancellationCodes(error)?.[0] === 'ConditionalCheckFailed') throw new AdminError(`Workspace "${input.workspace}" does not exist`, 'workspace_not_found');
      throw error;
    }
    return { key, tokenId, workspace: input.workspace, scopes: common.scopes, name, createdAt, prefix: common.prefix };
  }

  async listTokens(workspace: string): Promise<TokenSummary[]> {
    if (!(await this.workspaceExists(workspace))) throw new AdminError(`Workspace "${workspace}" does not exist`, 'workspace_not_found');
    const items = await queryPartition(this.client, this.tableName, { pk: apiKeyListingPartition(workspace), skPrefix: 'T#' });
    // last_used_at lives on the authorizer's item, so reading a key costs the authorizer nothing extra.
    const lastUsed = new Map<string, string>();
    for (let i = 0; i < items.length; i += 100) {
      const keys: Record<string, unknown>[] = items.slice(i, i + 100).map((item) => ({ ...apiKeyItemKey(String(item.key_hash)) }));
      let request: Record<string, { Keys: Record<string, unknown>[]; ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> }> | undefined = {
        [this.tableName]: { Keys: keys, ProjectionExpression: '#pk, #used', ExpressionAttributeNames: { '#pk': 'pk', '#used': 'last_used_at' } },
      };
      while (request && Object.keys(request).length > 0) {
        const result = await this.client.send(new BatchGetCommand({ RequestItems: request }));
        for (const item of result.Responses?.[this.tableName] ?? []) {
          if (item.last_used_at) lastUsed.set(String(item.pk), String(item.last_used_at));
        }
        request = result.UnprocessedKeys as typeof request;
      }
    }
    // Oldest first, as `workspace list` is in id order: the listing partition is in token-id order, which is random.
    const byAge = (a: TokenSummary, b: TokenSummary) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    return items.map((item) => ({
      id: String(item.token_id),
      name: typeof item.name === 'string' && item.name !== '' ? item.name : null,
      scopes: item.scopes as Scope[],
      created_at: String(item.created_at),
      last_used_at: lastUsed.get(apiKeyItemKey(String(item.key_hash)).pk) ?? null,
      prefix: String(item.prefix),
      revoked_at: item.revoked_at ? String(item.revoked_at) : null,
    })).sort(byAge);
  }

  /** Revokes a key by its token id: the authorizer refuses it from now on (API Gateway's cache aside). */
  async revokeToken(tokenId: string): Promise<{ tokenId: string; workspace: string; revokedAt: string }> {
    // A key pasted where its token id belongs is never echoed back (it would land in a terminal's scrollback or a CI log).
    if (tokenId.startsWith(keyPrefix)) {
      throw new AdminError(`That is an API key, not its token id: "token list --workspace <id>" shows each key's token id (tok_...) and prefix`);
    }
    if (!isTokenId(tokenId)) throw new AdminError(`"${clipped(tokenId, 40)}" is not a token id: they are tok_ and 16 letters and digits`);
    const lookup = await this.client.send(new GetCommand({ TableName: this.tableName, Key: tokenLookupKey(tokenId), ConsistentRead: true }));
    if (!lookup.Item) throw new AdminError(`No key has the token id "${tokenId}"`, 'token_not_found');
    const workspace = String(lookup.Item.workspace);
    const keyHash = String(lookup.Item.key_hash);
    // Its listing item may still be where a table written before the current layout keeps it.
    await this.workspaceItemInCurrentLayout(workspace);
    const revokedAt = this.clock().toISOString();
    const revoke = (key: { pk: string; sk: string }) => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET #revoked = :now',
        ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#revoked)',
        ExpressionAttributeNames: { '#revoked': 'revoked_at', '#pk': 'pk' },
        ExpressionAttributeValues: { ':now': revokedAt },
      },
    });
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: [revoke(apiKeyItemKey(keyHash)), revoke(apiKeyListingKey(workspace, tokenId))] }));
    } catch (error) {
      if (cancellationCodes(error)?.some((code) => code === 'ConditionalCheckFailed')) {
        throw new AdminError(`The key ${tokenId} is already revoked`, 'token_already_revoked');
      }
      throw error;
    }
    return { tokenId, workspace, revokedAt };
  }
}
