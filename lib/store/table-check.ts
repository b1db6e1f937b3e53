/**
 * Whether a table is Gather's records table, as `lib/store/table-definition.ts` defines it: the admin CLI asks before it
 * writes, since another table whose key DynamoDB takes (another application's keyed by `pk` and `sk`, or by `pk` alone)
 * would take its items without a word.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableDefinition } from './table-definition.js';

/** What a table's description says of it, or `unknown` when it could not be had (not allowed, or rate limited). */
export type TableShape = 'records table' | 'another table' | 'unknown';

/**
 * Failures that leave the question open without saying anything of the table: a role that may use a table without
 * describing it, and DescribeTable's own rate limit (a script that runs many commands), which its data calls do not share.
 */
const leaveOpen = new Set(['AccessDeniedException', 'LimitExceededException', 'ThrottlingException']);

export async function tableShape(client: DynamoDBClient, tableName: string): Promise<TableShape> {
  let table;
  try {
    table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (leaveOpen.has((error as Error).name)) return 'unknown';
    throw error;
  }
  const typeOf = (name: string) => table?.AttributeDefinitions?.find((attribute) => attribute.AttributeName === name)?.AttributeType;
  const keyIs = (schema: { AttributeName?: string; KeyType?: string }[] | undefined, partition: { name: string; type: string }, sort: { name: string; type: string }) =>
    schema?.length === 2 &&
    schema.some((key) => key.KeyType === 'HASH' && key.AttributeName === partition.name) &&
    schema.some((key) => key.KeyType === 'RANGE' && key.AttributeName === sort.name) &&
    typeOf(partition.name) === partition.type &&
    typeOf(sort.name) === sort.type;
  const matches =
    keyIs(table?.KeySchema, tableDefinition.partitionKey, tableDefinition.sortKey) &&
    tableDefinition.globalSecondaryIndexes.every((index) =>
      keyIs(table?.GlobalSecondaryIndexes?.find((gsi) => gsi.IndexName === index.indexName)?.KeySchema, index.partitionKey, index.sortKey),
    );
  return matches ? 'records table' : 'another table';
}
