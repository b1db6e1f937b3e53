/**
 * The admin CLI's check of the table it is pointed at: a caller that may use a table without describing it is let
 * through (the check is a guard against a wrong --table, not a permission), and any other failure is the caller's to
 * explain. DynamoDB is mocked only for the failures; the real descriptions are checked against DynamoDB Local in
 * test/integration/admin-cli.test.ts.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { tableShape } from '../../lib/store/table-check.js';

describe('tableShape', () => {
  const dynamodb = mockClient(DynamoDBClient);
  afterEach(() => dynamodb.reset());
  afterAll(() => dynamodb.restore());

  it.each([
    ['a caller that may not describe the table', 'AccessDeniedException'],
    ["DescribeTable's own rate limit", 'LimitExceededException'],
    ['a throttle', 'ThrottlingException'],
  ])('leaves the question open for %s', async (_case, name) => {
    dynamodb.on(DescribeTableCommand).rejects(Object.assign(new Error(name), { name }));
    expect(await tableShape(new DynamoDBClient({ region: 'eu-west-1', maxAttempts: 1 }), 'Gather-prod-RecordsTable')).toBe('unknown');
  });

  it('passes any other failure on: a missing table, a network failure', async () => {
    const missing = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    dynamodb.on(DescribeTableCommand).rejects(missing);
    await expect(tableShape(new DynamoDBClient({ region: 'eu-west-1' }), 'nope')).rejects.toBe(missing);
  });
});
