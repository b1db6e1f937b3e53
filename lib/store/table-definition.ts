/**
 * The table's key schema and indexes, in one place: the CDK stack deploys it and the local launcher creates it from it,
 * so the table behind `npm start` and the tests is the table that ships (docs/data-model.md).
 */
export type TableIndexName = 'list' | 'link';

export const tableDefinition = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  billingMode: 'PAY_PER_REQUEST',
  globalSecondaryIndexes: [
    /** Listing: records of one workspace and model, spread over a fixed number of shards, in id order per shard. */
    { indexName: 'list' satisfies TableIndexName, partitionKey: { name: 'lpk', type: 'S' }, sortKey: { name: 'lsk', type: 'S' } },
    /** Links (sparse): the records that link to one record, e.g. the customers of an account. */
    { indexName: 'link' satisfies TableIndexName, partitionKey: { name: 'apk', type: 'S' }, sortKey: { name: 'ask', type: 'S' } },
  ],
  /** Listing shards per workspace and model: one listing partition takes at most 1/16 of a bulk sync's index writes. */
  listShards: 16,
} as const;

/**
 * Idempotency records (Powertools for AWS Lambda's DynamoDB persistence layer): its own table, keyed by the hash of
 * workspace and Idempotency-Key, so the records spread over partitions; they expire through DynamoDB TTL.
 */
export const idempotencyTableDefinition = {
  partitionKey: { name: 'id', type: 'S' },
  ttlAttribute: 'expiration',
  billingMode: 'PAY_PER_REQUEST',
} as const;

export const idempotencyTableName = (tableName: string) => `${tableName}-idempotency`;
