/** The record envelope of SPEC section 4: system values outside `fields`, so a user's field never collides with them. */
import type { ModelDefinition } from '../models/model-definition.js';
import type { StoredRecord } from '../store/record-store.js';
import { responseBytes } from './response-size.js';

export interface LinkState {
  readonly id: string;
  /**
   * Whether the linked record exists now; null only in the answer to a write whose link lookup failed after the write
   * itself succeeded (the write is answered as it happened, the link left unchecked).
   */
  readonly exists: boolean | null;
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

/** A field of a model that links to another model (SPEC: a customer's `account`), and the model it points at. */
export interface LinkField {
  readonly field: string;
  readonly target: string;
}

/** The model's link fields, in the order they are declared. */
export function linkFieldsOf(model: ModelDefinition): LinkField[] {
  const fields: LinkField[] = [];
  for (const [field, definition] of Object.entries(model.fields)) if (definition.linksTo) fields.push({ field, target: definition.linksTo });
  return fields;
}

/** The model's link field, if it has one (a model has at most one); a loop, not a list, on the upsert's path. */
export function linkFieldOf(model: ModelDefinition): LinkField | undefined {
  for (const [field, definition] of Object.entries(model.fields)) if (definition.linksTo) return { field, target: definition.linksTo };
  return undefined;
}

/** The id each link field of the model points at, or null when the record does not link. */
export function linkTargets(model: ModelDefinition, record: StoredRecord): Map<string, { model: string; id: string } | null> {
  const targets = new Map<string, { model: string; id: string } | null>();
  for (const { field, target } of linkFieldsOf(model)) {
    const value = record.fields[field];
    targets.set(field, typeof value === 'string' ? { model: target, id: value } : null);
  }
  return targets;
}

/**
 * How much a record of the model weighs in a listing's answer as it travels in Lambda's response: its fields and id as
 * JSON, escaped once more inside the result (lib/records/response-size.ts), its id twice (`id` and the key), each link
 * field's value again under `links.<field>.id`, plus room for the rest of the envelope.
 */
export function envelopeWeigher(model: ModelDefinition): (record: StoredRecord) => number {
  const linkFields = linkFieldsOf(model).map(({ field }) => field);
  return (record) => {
    let bytes = responseBytes(JSON.stringify(record.fields)) + 2 * responseBytes(JSON.stringify(record.key.id)) + 300;
    for (const field of linkFields) {
      const value = Object.hasOwn(record.fields, field) ? record.fields[field] : undefined;
      if (value !== undefined) bytes += responseBytes(JSON.stringify(field)) + responseBytes(JSON.stringify(value)) + 40;
    }
    return bytes;
  };
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
