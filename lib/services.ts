/**
 * The process-wide services, built once per Lambda container (or local gateway process) from the environment:
 * one DynamoDB client, injected with the table name into the stores, and the domain services on top.
 */
import { optionalIntEnv, requireEnv } from './config.js';
import { CachingModelRegistry } from './models/model-registry.js';
import { ModelService } from './models/model-service.js';
import { BatchService } from './records/batch-service.js';
import { RecordService } from './records/record-service.js';
import { ApiKeyStore } from './store/api-key-store.js';
import { sharedDocumentClient, sharedDynamoDbClient } from './store/dynamodb-client.js';
import { DynamoDbModelStore } from './store/model-store.js';
import { DynamoDbRecordStore } from './store/dynamodb-record-store.js';

interface Services {
  readonly records: RecordService;
  readonly models: ModelService;
  readonly batches: BatchService;
}

let services: Services | undefined;
let apiKeyStore: ApiKeyStore | undefined;

export function tableName(): string {
  return requireEnv('TABLE_NAME');
}

function build(): Services {
  const client = sharedDocumentClient();
  const table = tableName();
  const recordStore = new DynamoDbRecordStore(sharedDynamoDbClient(), table);
  const modelStore = new DynamoDbModelStore(client, table);
  const registry = new CachingModelRegistry(modelStore, optionalIntEnv('MODEL_CACHE_TTL_SECONDS', 60) * 1000);
  const records = new RecordService(recordStore, registry);
  return { records, models: new ModelService(modelStore, recordStore, registry), batches: new BatchService(records) };
}

export function records(): RecordService {
  services ??= build();
  return services.records;
}

export function models(): ModelService {
  services ??= build();
  return services.models;
}

export function batches(): BatchService {
  services ??= build();
  return services.batches;
}

export function apiKeys(): ApiKeyStore {
  apiKeyStore ??= new ApiKeyStore(sharedDocumentClient(), tableName());
  return apiKeyStore;
}
