/**
 * One DynamoDB client per process, built on first use and then reused, so connections stay warm between invocations.
 * DYNAMODB_ENDPOINT points it at DynamoDB Local; in AWS it is unset and the SDK finds the regional endpoint.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { optionalIntEnv } from '../config.js';

export interface DynamoDbClientOptions {
  readonly endpoint?: string;
  readonly region?: string;
  /** Attempts per call, first one included. @default 3 */
  readonly maxAttempts?: number;
  /** @default 1000 */
  readonly connectionTimeoutMs?: number;
  /** @default 3000 */
  readonly requestTimeoutMs?: number;
}

export function createDynamoDbClient(options: DynamoDbClientOptions = {}): DynamoDBClient {
  const endpoint = options.endpoint ?? process.env.DYNAMODB_ENDPOINT;
  return new DynamoDBClient({
    ...(endpoint ? { endpoint } : {}),
    region: options.region ?? process.env.AWS_REGION ?? (endpoint ? 'local' : undefined),
    ...(endpoint && !process.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: options.maxAttempts ?? optionalIntEnv('DYNAMODB_MAX_ATTEMPTS', 3),
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 1000,
      requestTimeout: options.requestTimeoutMs ?? optionalIntEnv('DYNAMODB_REQUEST_TIMEOUT_MS', 3000),
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
