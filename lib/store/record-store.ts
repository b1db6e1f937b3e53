/**
 * The port between the records domain and the database. The domain sees only these types; the DynamoDB adapter
 * (dynamodb-record-store.ts) is the only implementation that talks to DynamoDB.
 */
import type { RecordKey } from './keys.js';

export type { RecordKey } from './keys.js';

export interface StoredRecord {
  readonly key: RecordKey;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface UpsertCommand {
  readonly key: RecordKey;
  readonly set: ReadonlyArray<readonly [string, unknown]>;
  readonly unset: readonly string[];
  readonly now: string;
  readonly ifMatch?: number;
  readonly createOnly?: boolean;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export interface UpsertResult {
  readonly outcome: UpsertOutcome;
  readonly record: StoredRecord;
}

export interface DeleteCommand {
  readonly key: RecordKey;
  readonly ifMatch?: number;
}

export interface RecordStore {
  /** Merges in one conditional write. Throws PreconditionFailedError when If-Match / If-None-Match fails. */
  upsert(command: UpsertCommand): Promise<UpsertResult>;
  get(key: RecordKey): Promise<StoredRecord | undefined>;
  /** True when a record was deleted, false when there was none. Throws PreconditionFailedError on a version mismatch, or with If-Match when there is none. */
  delete(command: DeleteCommand): Promise<boolean>;
  /** Whether a record exists, for link resolution (reads only the key). */
  exists(key: RecordKey): Promise<boolean>;
}
