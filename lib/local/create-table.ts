/** Creates the table on DynamoDB Local from the same definition the stack deploys, and adds indexes it lacks. */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  UpdateTableCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { idempotencyTableDefinition, idempotencyTableName, tableDefinition } from '../store/table-definition.js';

function attributeDefinitions(): AttributeDefinition[] {
  const all = [tableDefinition.partitionKey, tableDefinition.sortKey, ...tableDefinition.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  return all.map((a) => ({ AttributeName: a.name, AttributeType: a.type }));
}

function indexSpec(index: (typeof tableDefinition.globalSecondaryIndexes)[number]) {
  return {
    IndexName: index.indexName,
    KeySchema: [
      { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: index.sortKey.name, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  };
}

export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<'created' | 'existed'> {
  let existing;
  try {
    existing = await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  if (existing) {
    // A table made by an older version of the code gets the indexes it lacks (records written before need rewriting).
    const present = new Set((existing.Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
    for (const index of tableDefinition.globalSecondaryIndexes) {
      if (present.has(index.indexName)) continue;
      await client.send(
        new UpdateTableCommand({ TableName: tableName, AttributeDefinitions: attributeDefinitions(), GlobalSecondaryIndexUpdates: [{ Create: indexSpec(index) }] }),
      );
    }
    return 'existed';
  }
  const { partitionKey, sortKey } = tableDefinition;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: tableDefinition.billingMode,
      AttributeDefinitions: attributeDefinitions(),
      KeySchema: [
        { AttributeName: partitionKey.name, KeyType: 'HASH' },
        { AttributeName: sortKey.name, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: tableDefinition.globalSecondaryIndexes.map(indexSpec),
    }),
  );
  return 'created';
}

/** The idempotency table beside the main one, with TTL on its expiry attribute. */
export async function ensureIdempotencyTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const name = idempotencyTableName(tableName);
  try {
    await client.send(new DescribeTableCommand({ TableName: name }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const { partitionKey, ttlAttribute } = idempotencyTableDefinition;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: idempotencyTableDefinition.billingMode,
      AttributeDefinitions: [{ AttributeName: partitionKey.name, AttributeType: partitionKey.type }],
      KeySchema: [{ AttributeName: partitionKey.name, KeyType: 'HASH' }],
    }),
  );
  await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }));
}
