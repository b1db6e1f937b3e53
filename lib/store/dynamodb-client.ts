/**
 * One DynamoDB client per process, built on first use and then reused, so connections stay warm between invocations.
 * DYNAMODB_ENDPOINT points it at DynamoDB Local; in AWS it is unset and the SDK finds the regional endpoint.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { optionalIntEnv } from '../config.js';

/**
 * The retry budget of one DynamoDB call: three attempts, 1 s to connect and 2 s to answer each, and the SDK's
 * standard-mode backoff between them (at most 0.2 s, then 0.4 s). The infra tests check that every function's timeout
 * leaves room for two such calls in a row, and that every timeout ends inside API Gateway's 29 s.
 */
export const dynamoDbCallBudget = {
  maxAttempts: 3,
  connectionTimeoutMs: 1000,
  requestTimeoutMs: 2000,
  maxBackoffMs: 200 + 400,
} as const;

/** The longest one DynamoDB call can take, retries included. */
export const worstCaseCallMs =
  dynamoDbCallBudget.maxAttempts * (dynamoDbCallBudget.connectionTimeoutMs + dynamoDbCallBudget.requestTimeoutMs) + dynamoDbCallBudget.maxBackoffMs;

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
    maxAttempts: options.maxAttempts ?? optionalIntEnv('DYNAMODB_MAX_ATTEMPTS', dynamoDbCallBudget.maxAttempts),
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? dynamoDbCallBudget.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? optionalIntEnv('DYNAMODB_REQUEST_TIMEOUT_MS', dynamoDbCallBudget.requestTimeoutMs),
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
