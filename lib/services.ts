/**
 * The process-wide services, built once per Lambda container (or local gateway process) from the environment:
 * one DynamoDB client, injected with the table name into the stores, and the domain services on top.
 */
import { requireEnv } from './config.js';
import { StandardModelRegistry } from './models/model-registry.js';
import { RecordService } from './records/record-service.js';
import { ApiKeyStore } from './store/api-key-store.js';
import { sharedDocumentClient } from './store/dynamodb-client.js';
import { DynamoDbRecordStore } from './store/dynamodb-record-store.js';

let recordService: RecordService | undefined;
let apiKeyStore: ApiKeyStore | undefined;

export function tableName(): string {
  return requireEnv('TABLE_NAME');
}

export function records(): RecordService {
  recordService ??= new RecordService(new DynamoDbRecordStore(sharedDocumentClient(), tableName()), new StandardModelRegistry());
  return recordService;
}

export function apiKeys(): ApiKeyStore {
  apiKeyStore ??= new ApiKeyStore(sharedDocumentClient(), tableName());
  return apiKeyStore;
}
