/**
 * The records domain: upsert (merge), read and delete, with link resolution. It talks to a RecordStore and a
 * ModelRegistry, never to the AWS SDK, and throws only domain errors.
 */
import type { ModelRegistry } from '../models/model-registry.js';
import type { ModelDefinition } from '../models/model-definition.js';
import type { IfMatch, ListPosition, RecordKey, RecordStore, StoredRecord, UnconditionalUpsertCommand, UpsertOutcome } from '../store/record-store.js';
import { linkSortKey } from '../store/keys.js';
import { tableDefinition } from '../store/table-definition.js';
import { decodeCursor, encodeCursor, parseLimit } from './cursor.js';
import { envelopeWeigher, linkFieldOf, linkTargets, toEnvelope, type LinkState, type RecordEnvelope } from './envelope.js';
import { NoSuchListingError, PreconditionFailedError, RecordNotFoundError, UnavailableError } from './errors.js';
import { validateUpsertPayload, type RecordPayload, type ValidatedUpsert } from './payload.js';
import { lookUpRecordId } from './record-id.js';

/** A page of records stops growing at this many bytes, weighed as in Lambda's response (./response-size.ts), under its 6 MB. */
export const maxPageBytes = 4 * 1024 * 1024;
export const listLimits = { default: 100, max: 1000 } as const;

export interface ListRequest {
  readonly workspace: string;
  readonly model: string;
  readonly limit?: string;
  readonly cursor?: string;
}

export interface RecordPage {
  readonly records: RecordEnvelope[];
  readonly next_cursor: string | null;
}

/**
 * A sort-key value a cursor may carry: DynamoDB refuses an empty one or one over 1,024 bytes in a key condition with a
 * ValidationException, which would surface as a 500, so a tampered cursor holding one is refused here as any other.
 * A lone surrogate is refused too: no id holds one (ids must be well-formed Unicode), and what DynamoDB makes of one in
 * a key condition cannot be checked here. `extraBytes` is what the store adds around the position in its condition.
 */
const isSortKeyValue = (value: unknown, extraBytes = 0): value is string =>
  typeof value === 'string' && value.length > 0 && value.isWellFormed() && Buffer.byteLength(value, 'utf8') + extraBytes <= 1024;

/** The store resumes a links listing after `<model>#<position>` and a NUL (lib/store/dynamodb-record-store.ts). */
const linkCursorBytes = (linkingModel: string) => Buffer.byteLength(linkSortKey(linkingModel, ''), 'utf8') + 1;

function isListPosition(value: unknown): value is ListPosition {
  const p = value as ListPosition | undefined;
  return (
    typeof p === 'object' && p !== null && Number.isInteger(p.shard) && p.shard >= 0 && p.shard < tableDefinition.listShards &&
    (p.after === undefined || isSortKeyValue(p.after))
  );
}

/** The record a client's id names in a model: its key, and a second key to look up when the first names nothing. */
export interface RecordLocation {
  readonly key: RecordKey;
  /** In a model keyed by e-mail, the id as sent, where a record stored while the unique field was a string sits. */
  readonly asSent?: RecordKey;
  readonly notAnAddress: boolean;
}

/**
 * Where a client's id names a record in a model (lib/records/record-id.ts); an id that no record can have (empty,
 * malformed) names nothing: 404, without a read.
 */
function locationIn(model: ModelDefinition, workspace: string, id: string): RecordLocation {
  const lookup = lookUpRecordId(model, id);
  if (!lookup.ok) {
    throw new RecordNotFoundError(`No ${model.name} record can have this id: it ${lookup.issue}`, [{ field: 'id', issue: lookup.issue }]);
  }
  const key = { workspace, model: model.name, id: lookup.id };
  return { key, notAnAddress: lookup.notAnAddress, ...(lookup.asSent !== undefined ? { asSent: { ...key, id: lookup.asSent } } : {}) };
}

/** The 404 for an id with no record; for one that is no address, in a model keyed by e-mail, it says why. */
function recordNotFound(model: ModelDefinition, location: RecordLocation): RecordNotFoundError {
  const message = `No ${model.name} record with id "${location.key.id}"`;
  if (!location.notAnAddress) return new RecordNotFoundError(message);
  return new RecordNotFoundError(`${message}: ${model.name} ids are e-mail addresses`, [{ field: 'id', issue: 'must be an e-mail address' }]);
}

export interface WriteConditions {
  /** If-Match: apply only to an existing record (`*`) or to one of these versions. */
  readonly ifMatch?: IfMatch;
  /** If-None-Match: * : only when there is no record (an upsert creates only; a delete deletes nothing). */
  readonly createOnly?: boolean;
}

export interface UpsertRequest {
  readonly workspace: string;
  readonly model: string;
  readonly payload: RecordPayload;
  readonly conditions?: WriteConditions;
}

export interface RecordAddress {
  readonly workspace: string;
  readonly model: string;
  /** The id as the client sent it (already percent-decoded); it is normalized like the unique field. */
  readonly id: string;
}

export interface UpsertResponse {
  readonly outcome: UpsertOutcome;
  readonly record: RecordEnvelope;
}

export class RecordService {
  constructor(
    private readonly store: RecordStore,
    private readonly models: ModelRegistry,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async upsert(request: UpsertRequest): Promise<UpsertResponse> {
    const model = await this.models.resolve(request.workspace, request.model);
    const payload = validateUpsertPayload(model, request.payload);
    return this.upsertValidated(request.workspace, model, payload, request.conditions);
  }

  /** Resolves a model once, for callers that validate and write many records of it (batch). */
  model(workspace: string, name: string): Promise<ModelDefinition> {
    return this.models.resolve(workspace, name);
  }

  /** The store's command for a validated payload: the record's key, its link (if the payload names one) and the merge. */
  private upsertCommand(
    workspace: string,
    model: ModelDefinition,
    payload: ValidatedUpsert,
    link = linkFieldOf(model),
  ): UnconditionalUpsertCommand {
    const key: RecordKey = { workspace, model: model.name, id: payload.id };
    let linkTarget: RecordKey | null | undefined;
    if (link) {
      const value = payload.set.find(([field]) => field === link.field)?.[1];
      if (typeof value === 'string') linkTarget = { workspace, model: link.target, id: value };
      else if (payload.unset.includes(link.field)) linkTarget = null;
    }
    return {
      key,
      ...(linkTarget !== undefined ? { link: linkTarget } : {}),
      set: payload.set,
      unset: payload.unset,
      now: this.clock().toISOString(),
    };
  }

  /** Writes a validated payload and answers the record, its links resolved. */
  private async upsertValidated(workspace: string, model: ModelDefinition, payload: ValidatedUpsert, conditions: WriteConditions | undefined): Promise<UpsertResponse> {
    const link = linkFieldOf(model);
    const command = this.upsertCommand(workspace, model, payload, link);
    const write = this.store.upsert({
      ...command,
      ...(conditions?.ifMatch !== undefined ? { ifMatch: conditions.ifMatch } : {}),
      ...(conditions?.createOnly ? { createOnly: true } : {}),
    });
    if (!link) {
      // No link field, nothing to look up: the write is the whole request.
      const result = await write;
      return { outcome: result.outcome, record: toEnvelope(model, result.record, new Map()) };
    }
    // A link named in the payload is looked up while the write runs (SPEC: one read, concurrently with the write).
    const prefetched = new Map<string, Promise<boolean>>();
    if (command.link) prefetched.set(`${command.link.model}#${command.link.id}`, this.store.exists(command.link));
    // Wait for every call before answering, so no request is left running after the response.
    const [written] = await Promise.allSettled([write, ...prefetched.values()]);
    if (written.status === 'rejected') throw written.reason;

    // The write happened: a link lookup that failed (the database unavailable for that read) leaves the link unchecked
    // (`exists: null`) rather than turning the write into a 503, whose retry would find it done and answer 412, or 200
    // for a creation.
    const result = written.value;
    const links = await this.resolveLinks(model, result.record, prefetched, true);
    return { outcome: result.outcome, record: toEnvelope(model, result.record, links) };
  }

  /**
   * Writes a validated payload and answers only what happened (a batch item): the same one UpdateItem, without the
   * record coming back and without the link lookup, since nothing here shows the record. `writeToken`: the same for
   * every attempt of the item (the batch's own retries), so a retry recognises the write of an attempt whose answer
   * was lost.
   */
  writeValidated(workspace: string, model: ModelDefinition, payload: ValidatedUpsert, writeToken?: string): Promise<UpsertOutcome> {
    return this.store.write({ ...this.upsertCommand(workspace, model, payload), ...(writeToken !== undefined ? { writeToken } : {}) });
  }

  /** One page of a model's records (SPEC: `limit` 1 to 1,000, default 100, an opaque cursor). */
  async list(request: ListRequest): Promise<RecordPage> {
    const model = await this.models.resolve(request.workspace, request.model);
    const limit = parseLimit(request.limit, listLimits.default, listLimits.max);
    const cursorScope = { workspace: request.workspace, list: `records:${model.name}` };
    const from = request.cursor !== undefined ? decodeCursor(request.cursor, cursorScope, isListPosition) : undefined;
    const page = await this.store.list({ workspace: request.workspace, model: model.name, limit, maxBytes: maxPageBytes, weigh: envelopeWeigher(model), ...(from ? { from } : {}) });
    return {
      records: await this.envelopes(model, page.records),
      next_cursor: page.next ? encodeCursor(cursorScope, page.next) : null,
    };
  }

  /** The records of other models that link to one record, e.g. the customers of an account. */
  async listLinking(request: ListRequest & { readonly id: string; readonly linking: string }): Promise<RecordPage> {
    // Whether the listing exists depends on the models only, so it is decided before the id is even looked at.
    const [model, linking] = await Promise.all([this.models.resolve(request.workspace, request.model), this.models.resolve(request.workspace, request.linking)]);
    if (linkFieldOf(linking)?.target !== model.name) {
      throw new NoSuchListingError(`Records of "${linking.name}" do not link to "${model.name}", so there is no such listing`);
    }
    const { key } = locationIn(model, request.workspace, request.id);
    const limit = parseLimit(request.limit, listLimits.default, listLimits.max);
    const cursorScope = { workspace: request.workspace, list: `links:${model.name}:${key.id}:${linking.name}` };
    const from = request.cursor !== undefined ? decodeCursor(request.cursor, cursorScope, (value): value is string => isSortKeyValue(value, linkCursorBytes(linking.name))) : undefined;
    const [page, targetExists] = await Promise.all([
      this.store.listLinking({ workspace: request.workspace, model: linking.name, target: key, limit, maxBytes: maxPageBytes, weigh: envelopeWeigher(linking), ...(from !== undefined ? { from } : {}) }),
      this.store.exists(key),
    ]);
    const links = new Map([[linkFieldOf(linking)!.field, { id: key.id, exists: targetExists }]]);
    return {
      records: page.records.map((record) => toEnvelope(linking, record, links)),
      next_cursor: page.next !== undefined ? encodeCursor(cursorScope, page.next) : null,
    };
  }

  /** Envelopes for many records of one model, their links resolved with batched reads. */
  private async envelopes(model: ModelDefinition, records: readonly StoredRecord[]): Promise<RecordEnvelope[]> {
    const targets = records.flatMap((record) => [...linkTargets(model, record).values()].filter((t) => t !== null));
    const workspace = records[0]?.key.workspace ?? '';
    const existing = targets.length > 0 ? await this.store.existing(targets.map((t) => ({ workspace, model: t.model, id: t.id }))) : new Set<string>();
    return records.map((record) => {
      const links = new Map<string, LinkState | null>();
      for (const [field, target] of linkTargets(model, record)) {
        links.set(field, target ? { id: target.id, exists: existing.has(`${target.model}#${target.id}`) } : null);
      }
      return toEnvelope(model, record, links);
    });
  }

  async get(address: RecordAddress): Promise<RecordEnvelope> {
    const model = await this.models.resolve(address.workspace, address.model);
    const location = locationIn(model, address.workspace, address.id);
    let record = await this.store.get(location.key);
    if (!record && location.asSent) record = await this.store.get(location.asSent);
    if (!record) throw recordNotFound(model, location);
    return toEnvelope(model, record, await this.resolveLinks(model, record));
  }

  /** Deletes one record and returns its (normalized) id. */
  async delete(address: RecordAddress, conditions: WriteConditions = {}): Promise<string> {
    const model = await this.models.resolve(address.workspace, address.model);
    let location: RecordLocation;
    try {
      location = locationIn(model, address.workspace, address.id);
    } catch (error) {
      // If-Match on a record that does not exist is a 412, whether or not a record could have that id.
      if (conditions.ifMatch !== undefined && error instanceof RecordNotFoundError) {
        throw new PreconditionFailedError('The record does not exist, so it cannot match If-Match', error.details);
      }
      throw error;
    }
    return this.deleteAt(model, location, conditions);
  }

  /**
   * Where a client's id names a record in a model, for a caller that has the model already (a batch); an id that no
   * record can have is a 404 {@link RecordNotFoundError}, as on the single-record routes.
   */
  locationOf(model: ModelDefinition, workspace: string, id: string): RecordLocation {
    return locationIn(model, workspace, id);
  }

  /**
   * Deletes the record a {@link locationOf} location names and returns the id deleted: an unconditional delete that
   * finds nothing under its key also tries the id as sent, where one is given.
   */
  async deleteAt(model: ModelDefinition, location: RecordLocation, conditions: WriteConditions = {}): Promise<string> {
    const deleted = await this.store.delete({
      key: location.key,
      ...(conditions.ifMatch !== undefined ? { ifMatch: conditions.ifMatch } : {}),
      ...(conditions.createOnly ? { onlyIfAbsent: true } : {}),
    });
    if (deleted) return location.key.id;
    const unconditional = conditions.ifMatch === undefined && !conditions.createOnly;
    if (unconditional && location.asSent && (await this.store.delete({ key: location.asSent }))) return location.asSent.id;
    throw recordNotFound(model, location);
  }

  /**
   * The record's links, each looked up (or taken from a lookup already running). With `uncheckedIfUnavailable`, a
   * lookup the database failed (UnavailableError) answers `exists: null` instead of failing the whole answer.
   */
  private async resolveLinks(
    model: ModelDefinition,
    record: StoredRecord,
    prefetched: ReadonlyMap<string, Promise<boolean>> = new Map(),
    uncheckedIfUnavailable = false,
  ): Promise<Map<string, LinkState | null>> {
    const links = new Map<string, LinkState | null>();
    for (const [field, target] of linkTargets(model, record)) {
      if (!target) {
        links.set(field, null);
        continue;
      }
      const known = prefetched.get(`${target.model}#${target.id}`);
      let exists: boolean | null;
      try {
        exists = await (known ?? this.store.exists({ workspace: record.key.workspace, model: target.model, id: target.id }));
      } catch (error) {
        if (!(error instanceof UnavailableError) || !uncheckedIfUnavailable) throw error;
        exists = null;
      }
      links.set(field, { id: target.id, exists });
    }
    return links;
  }
}
