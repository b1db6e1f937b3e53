/**
 * One DynamoDB client per process, built on first use and then reused, so connections stay warm between invocations.
 * DYNAMODB_ENDPOINT points it at DynamoDB Local; in AWS it is unset and the SDK finds the regional endpoint.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfiguredRetryStrategy } from '@smithy/util-retry';
import { optionalIntEnv } from '../config.js';

/**
 * The retry budget of one DynamoDB call: three attempts, 1 s to connect and 2 s to answer each, and a backoff of at
 * most 0.2 s, then 0.4 s between them (full jitter). The infra tests check that every function's timeout leaves room for
 * two such calls in a row, and that every timeout ends inside API Gateway's 29 s.
 *
 * The backoff is set here, not left to the SDK: its default strategy waits up to 1 s, then 2 s, after a throttle
 * (@smithy/core 3.41's `Retry.throttlingDelay`), which would break that budget; a throttled call that still fails is
 * answered 503 with Retry-After, and the client (or the batch's own item retries) waits instead.
 */
export const dynamoDbCallBudget = {
  maxAttempts: 3,
  connectionTimeoutMs: 1000,
  requestTimeoutMs: 2000,
  /** The longest wait before the n-th retry (n from 1) is this times 2^(n-1). */
  firstBackoffMs: 200,
} as const;

/** The longest wait before the n-th retry (n from 1): the backoff's ceiling, before jitter. */
export function maxBackoffBeforeRetryMs(retry: number): number {
  return dynamoDbCallBudget.firstBackoffMs * 2 ** (retry - 1);
}

/** The longest one DynamoDB call can take, retries included. */
export const worstCaseCallMs =
  dynamoDbCallBudget.maxAttempts * (dynamoDbCallBudget.connectionTimeoutMs + dynamoDbCallBudget.requestTimeoutMs) +
  Array.from({ length: dynamoDbCallBudget.maxAttempts - 1 }, (_, i) => maxBackoffBeforeRetryMs(i + 1)).reduce((a, b) => a + b, 0);

/** The SDK's retry strategy within that budget: the attempts, and a fully jittered wait under each retry's ceiling. */
export function budgetRetryStrategy(maxAttempts: number): ConfiguredRetryStrategy {
  return new ConfiguredRetryStrategy(maxAttempts, (retry) => Math.floor(Math.random() * maxBackoffBeforeRetryMs(retry)));
}

export interface DynamoDbClientOptions {
  readonly endpoint?: string;
  readonly region?: string;
  /** Attempts per call, first one included. @default 3 (DYNAMODB_MAX_ATTEMPTS) */
  readonly maxAttempts?: number;
  /** @default 1000 */
  readonly connectionTimeoutMs?: number;
  /** @default 2000 */
  readonly requestTimeoutMs?: number;
}

export function createDynamoDbClient(options: DynamoDbClientOptions = {}): DynamoDBClient {
  const endpoint = options.endpoint ?? process.env.DYNAMODB_ENDPOINT;
  return new DynamoDBClient({
    ...(endpoint ? { endpoint } : {}),
    region: options.region ?? process.env.AWS_REGION ?? (endpoint ? 'local' : undefined),
    ...(endpoint && !process.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    retryStrategy: budgetRetryStrategy(options.maxAttempts ?? optionalIntEnv('DYNAMODB_MAX_ATTEMPTS', dynamoDbCallBudget.maxAttempts)),
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? dynamoDbCallBudget.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? optionalIntEnv('DYNAMODB_REQUEST_TIMEOUT_MS', dynamoDbCallBudget.requestTimeoutMs),
      // Without it, @smithy/node-http-handler 4.x only logs a warning when a request outlives requestTimeout and keeps
      // waiting: a DynamoDB that stops answering (rather than refusing connections) held every call until the
      // function's own timeout (a 504 after 20 s) instead of failing the attempt, retrying, and answering 503.
      throwOnRequestTimeout: true,
    },
  });
}

/** The document client the stores use: plain JavaScript values in and out. */
export function createDocumentClient(client: DynamoDBClient = createDynamoDbClient()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

let sharedRaw: DynamoDBClient | undefined;
let shared: DynamoDBDocumentClient | undefined;

/** The process-wide client (for libraries that take a plain DynamoDBClient). */
export function sharedDynamoDbClient(): DynamoDBClient {
  sharedRaw ??= createDynamoDbClient();
  return sharedRaw;
}

/** The process-wide document client, over the same connection pool. */
export function sharedDocumentClient(): DynamoDBDocumentClient {
  shared ??= createDocumentClient(sharedDynamoDbClient());
  return shared;
}
