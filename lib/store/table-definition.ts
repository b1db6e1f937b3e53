/**
 * The table's key schema, in one place: the CDK stack deploys it and the local launcher creates it from it, so the
 * table behind `npm start` and the tests is the table that ships.
 */
export const tableDefinition = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  billingMode: 'PAY_PER_REQUEST',
} as const;
