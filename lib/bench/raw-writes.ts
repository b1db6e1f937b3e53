/**
 * The raw DynamoDB writes `npm run bench` compares the API with, in one place: the main bench process (throughput,
 * batch) and the in-process worker (latency) send the same requests.
 */
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { upsertRequest } from '../store/dynamodb-record-store.js';
import { listPartition } from '../store/keys.js';

/**
 * The raw write stores what an upsert of the same payload must store at the least: both of its fields ({name, n}, the
 * name also in the key), a version counter and the listing-index keys (DynamoDB Local maintains indexes inside the
 * write, so leaving them out would charge the index's cost to our code; on AWS, index updates are asynchronous and add
 * no write latency). What it leaves out is the API's own work, charged to our code: the timestamps, the change test and
 * returning the merged record.
 */
export function rawWrite(client: DynamoDBClient, tableName: string, id: string, n: number) {
  return client.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: { S: `R#dev#rawbench#${id}` }, sk: { S: 'R' } },
      // Named as the store names them (lib/store/upsert-expression.ts): the fields through placeholders, the item's own
      // attributes directly.
      UpdateExpression: 'SET #name = :name, #n = :n, v = if_not_exists(v, :z) + :o, lpk = :lpk, lsk = :lsk',
      ExpressionAttributeNames: { '#name': 'f_name', '#n': 'f_n' },
      ExpressionAttributeValues: {
        ':name': { S: id },
        ':n': { N: String(n) },
        ':z': { N: '0' },
        ':o': { N: '1' },
        // The record's own listing partition, fixed by its id as the store's is: an update leaves its index row where it is.
        ':lpk': { S: listPartition({ workspace: 'dev', model: 'rawbench', id }) },
        ':lsk': { S: id },
      },
    }),
  );
}

/**
 * The upsert's own request, sent raw: the store's UpdateItem for an upsert of {name, n} (the conditional change test,
 * ALL_NEW return values), as the store builds it. Not a target; it splits the in-process difference into DynamoDB's
 * extra work and our code's.
 */
export function rawUpsertRequest(client: DynamoDBClient, tableName: string, i: number) {
  const key = { workspace: 'dev', model: 'rawshape', id: `shape-${i % 1000}` };
  const request = upsertRequest(tableName, { key, set: [['name', key.id], ['n', i]], unset: [], now: new Date().toISOString() });
  return client.send(new UpdateItemCommand({ ...request, ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
}
