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

/**
 * If-Match as the store applies it: `*` (any version, so the record must exist) or the versions the write may apply
 * to (one or a few; the HTTP layer turns ETags into versions).
 */
export type IfMatch = '*' | readonly number[];

/** Whether a stored version satisfies If-Match. */
export function versionMatches(ifMatch: IfMatch, version: number): boolean {
  return ifMatch === '*' || ifMatch.includes(version);
}

/** If-Match for a message: `*`, or the ETags it lists. */
export function describeIfMatch(ifMatch: IfMatch): string {
  return ifMatch === '*' ? '*' : ifMatch.map((version) => `"${version}"`).join(', ');
}

export interface UpsertCommand {
  readonly key: RecordKey;
  /**
   * The record this one links to, for the link index: a key to (re)link, null to unlink, undefined to leave as stored.
   * (A model has at most one link field.)
   */
  readonly link?: RecordKey | null;
  readonly set: ReadonlyArray<readonly [string, unknown]>;
  readonly unset: readonly string[];
  readonly now: string;
  readonly ifMatch?: IfMatch;
  readonly createOnly?: boolean;
  /**
   * Unique to this upsert and the same in every attempt of it (the SDK's, a batch's own retries): stored in the
   * item's write stamp, it tells a repeat that finds its own write applied from any other write. Made by the store
   * when absent.
   */
  readonly writeToken?: string;
}

/** An upsert without If-Match or If-None-Match, as a batch item is. */
export type UnconditionalUpsertCommand = Omit<UpsertCommand, 'ifMatch' | 'createOnly'>;

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export interface UpsertResult {
  readonly outcome: UpsertOutcome;
  readonly record: StoredRecord;
}

export interface DeleteCommand {
  readonly key: RecordKey;
  readonly ifMatch?: IfMatch;
  /** If-None-Match: * : delete only if there is no record, so it never deletes anything (404) or fails (412). */
  readonly onlyIfAbsent?: boolean;
}

/** Where a walk over the listing index stands: the shard, and the last id returned from it. */
export interface ListPosition {
  readonly shard: number;
  readonly after?: string;
}

export interface ListPage<P> {
  readonly records: StoredRecord[];
  /** Where the next page starts; undefined when the walk is complete. */
  readonly next?: P;
}

export interface ListCommand<P> {
  readonly workspace: string;
  readonly model: string;
  readonly limit: number;
  readonly from?: P;
  /** Stop adding records once their weight in the answer passes this, so a page fits a Lambda response. */
  readonly maxBytes: number;
  /** A record's weight in the answer (lib/records/envelope.ts `envelopeWeigher`: the store does not know its shape). */
  readonly weigh: (record: StoredRecord) => number;
}

export interface RecordStore {
  /** Merges in one conditional write. Throws PreconditionFailedError when If-Match / If-None-Match fails. */
  upsert(command: UpsertCommand): Promise<UpsertResult>;
  /** The same write, answering only its outcome: no record comes back, so nothing is transferred or parsed for it. */
  write(command: UnconditionalUpsertCommand): Promise<UpsertOutcome>;
  get(key: RecordKey): Promise<StoredRecord | undefined>;
  /** True when a record was deleted, false when there was none. Throws PreconditionFailedError on a version mismatch, or with If-Match when there is none. */
  delete(command: DeleteCommand): Promise<boolean>;
  /** Whether a record exists, for link resolution (reads only the key). */
  exists(key: RecordKey): Promise<boolean>;
  /** Which of these records exist, as `<model>#<id>` strings (batched reads of the keys only). */
  existing(keys: readonly RecordKey[]): Promise<Set<string>>;
  /** One page of a model's records, shard by shard, in id order within a shard. */
  list(command: ListCommand<ListPosition>): Promise<ListPage<ListPosition>>;
  /** One page of the records of `model` that link to `target`, in id order. */
  listLinking(command: ListCommand<string> & { readonly target: RecordKey }): Promise<ListPage<string>>;
  /** Whether a model has at least one record (the listing index, so a record written a moment ago may not count yet). */
  hasRecords(workspace: string, model: string): Promise<boolean>;
}
