/**
 * The records domain: upsert (merge), read and delete, with link resolution. It talks to a RecordStore and a
 * ModelRegistry, never to the AWS SDK, and throws only domain errors.
 */
import type { ModelRegistry } from '../models/model-registry.js';
import type { ModelDefinition } from '../models/model-definition.js';
import type { RecordKey, RecordStore, StoredRecord, UpsertOutcome } from '../store/record-store.js';
import { linkTargets, toEnvelope, type LinkState, type RecordEnvelope } from './envelope.js';
import { RecordNotFoundError } from './errors.js';
import { validateUpsertPayload, type RecordPayload } from './payload.js';
import { normalizeId } from './record-id.js';

export interface WriteConditions {
  /** If-Match: apply only to this version. */
  readonly ifMatch?: number;
  /** If-None-Match: * : create only. */
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
    const key: RecordKey = { workspace: request.workspace, model: model.name, id: payload.id };

    // A link named in the payload is looked up while the write runs (SPEC: one read, concurrently with the write).
    const prefetched = new Map<string, Promise<boolean>>();
    for (const [field, value] of payload.set) {
      const linksTo = Object.hasOwn(model.fields, field) ? model.fields[field]?.linksTo : undefined;
      if (linksTo && typeof value === 'string') {
        prefetched.set(`${linksTo}#${value}`, this.store.exists({ workspace: request.workspace, model: linksTo, id: value }));
      }
    }
    const write = this.store.upsert({
      key,
      set: payload.set,
      unset: payload.unset,
      now: this.clock().toISOString(),
      ...(request.conditions?.ifMatch !== undefined ? { ifMatch: request.conditions.ifMatch } : {}),
      ...(request.conditions?.createOnly ? { createOnly: true } : {}),
    });
    // Wait for every call before failing, so no request is left running after the response.
    const [written, ...lookups] = await Promise.allSettled([write, ...prefetched.values()]);
    if (written.status === 'rejected') throw written.reason;
    for (const lookup of lookups) if (lookup.status === 'rejected') throw lookup.reason;

    const result = written.value;
    const links = await this.resolveLinks(model, result.record, prefetched);
    return { outcome: result.outcome, record: toEnvelope(model, result.record, links) };
  }

  async get(address: RecordAddress): Promise<RecordEnvelope> {
    const { model, key } = await this.locate(address);
    const record = await this.store.get(key);
    if (!record) throw new RecordNotFoundError(`No ${model.name} record with id "${key.id}"`);
    return toEnvelope(model, record, await this.resolveLinks(model, record));
  }

  async delete(address: RecordAddress, conditions: Pick<WriteConditions, 'ifMatch'> = {}): Promise<void> {
    const { model, key } = await this.locate(address);
    const deleted = await this.store.delete({ key, ...(conditions.ifMatch !== undefined ? { ifMatch: conditions.ifMatch } : {}) });
    if (!deleted) throw new RecordNotFoundError(`No ${model.name} record with id "${key.id}"`);
  }

  private async locate(address: RecordAddress): Promise<{ model: ModelDefinition; key: RecordKey }> {
    const model = await this.models.resolve(address.workspace, address.model);
    const uniqueType = model.fields[model.uniqueField]?.type ?? 'string';
    const normalized = normalizeId(address.id, uniqueType === 'email' ? 'email' : 'string');
    if (!normalized.ok) {
      // An id that no record can have (an empty or malformed one) names nothing: 404, without a read.
      throw new RecordNotFoundError(`No ${model.name} record can have this id: it ${normalized.issue}`, [{ field: 'id', issue: normalized.issue }]);
    }
    return { model, key: { workspace: address.workspace, model: model.name, id: normalized.id } };
  }

  private async resolveLinks(
    model: ModelDefinition,
    record: StoredRecord,
    prefetched: ReadonlyMap<string, Promise<boolean>> = new Map(),
  ): Promise<Map<string, LinkState | null>> {
    const links = new Map<string, LinkState | null>();
    for (const [field, target] of linkTargets(model, record)) {
      if (!target) {
        links.set(field, null);
        continue;
      }
      const known = prefetched.get(`${target.model}#${target.id}`);
      const exists = await (known ?? this.store.exists({ workspace: record.key.workspace, model: target.model, id: target.id }));
      links.set(field, { id: target.id, exists });
    }
    return links;
  }
}
