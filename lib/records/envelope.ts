/** The record envelope of SPEC section 4: system values outside `fields`, so a user's field never collides with them. */
import type { ModelDefinition } from '../models/model-definition.js';
import type { StoredRecord } from '../store/record-store.js';

export interface LinkState {
  readonly id: string;
  readonly exists: boolean;
}

export interface RecordEnvelope {
  readonly model: string;
  readonly id: string;
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly links: Readonly<Record<string, LinkState | null>>;
}

/** The id each link field of the model points at, or null when the record does not link. */
export function linkTargets(model: ModelDefinition, record: StoredRecord): Map<string, { model: string; id: string } | null> {
  const targets = new Map<string, { model: string; id: string } | null>();
  for (const [field, definition] of Object.entries(model.fields)) {
    if (!definition.linksTo) continue;
    const value = record.fields[field];
    targets.set(field, typeof value === 'string' ? { model: definition.linksTo, id: value } : null);
  }
  return targets;
}

export function toEnvelope(model: ModelDefinition, record: StoredRecord, links: ReadonlyMap<string, LinkState | null>): RecordEnvelope {
  return {
    model: model.name,
    id: record.key.id,
    version: record.version,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    fields: record.fields,
    links: Object.fromEntries(links),
  };
}
