/**
 * Validation and normalization of an upsert payload (SPEC section 4): field names, limits, values, declared types and
 * the unique field. Every problem is collected, so one 422 names them all; a rejected payload writes nothing.
 */
import { coerceFieldValue, type BodySource, type Coercion } from '../models/field-types.js';
import type { FieldType, ModelDefinition } from '../models/model-definition.js';
import { MissingUniqueFieldError, RecordTooLargeError, ValidationError, type FieldIssue } from './errors.js';
import { InexactNumber, inexactNumberIssue, tooSmallNumberIssue } from './exact-json.js';
import { limits, nestingIssue } from './limits.js';
import { normalizeId } from './record-id.js';

/** A parsed request body: fields to set (in order) and fields to remove (JSON null, form `_unset`). */
export interface RecordPayload {
  readonly source: BodySource;
  readonly set: ReadonlyArray<readonly [string, unknown]>;
  readonly unset: readonly string[];
}

export interface ValidatedUpsert {
  readonly id: string;
  readonly set: ReadonlyArray<readonly [string, unknown]>;
  readonly unset: readonly string[];
}

const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

/** Why a name cannot be a field name, or undefined when it can. */
export function fieldNameIssue(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) return 'field name must not be empty';
  if (bytes > limits.maxFieldNameBytes) return `field name must be at most ${limits.maxFieldNameBytes} bytes of UTF-8`;
  if (!name.isWellFormed()) return 'field name must be well-formed Unicode';
  if (controlCharacters.test(name)) return 'field name must not contain control characters';
  if (name.startsWith('_')) return 'field names starting with "_" are reserved for control parameters';
  return undefined;
}

/** Approximate DynamoDB size of a value, by DynamoDB's published rules. */
function valueSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return Math.ceil(String(Math.abs(value)).replace(/[.e+-]/g, '').length / 2) + 1;
  if (typeof value === 'boolean' || value === null) return 1;
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, item) => sum + 1 + valueSize(item), 0);
  if (typeof value === 'object') {
    return 3 + Object.entries(value as object).reduce((sum, [k, v]) => sum + 1 + Buffer.byteLength(k, 'utf8') + valueSize(v), 0);
  }
  return 0;
}

/** DynamoDB's smallest positive number; anything non-zero below it is refused by the database ("underflow"). */
const smallestNumber = 1e-130;

/** Why a key inside an object value cannot be stored, or undefined. DynamoDB refuses empty map keys. */
function nestedKeyIssue(key: string): string | undefined {
  if (key === '__proto__') return 'the key "__proto__" is not allowed inside values';
  if (key === '') return 'keys inside values must not be empty';
  if (!key.isWellFormed()) return 'keys must be well-formed Unicode';
  if (Buffer.byteLength(key, 'utf8') > limits.maxFieldNameBytes) return `keys inside values must be at most ${limits.maxFieldNameBytes} bytes of UTF-8`;
  return undefined;
}

/** Why a value cannot be stored as given (depth, numbers, Unicode, keys), or undefined. */
export function valueIssue(value: unknown, depth = 0): string | undefined {
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'string') return value.isWellFormed() ? undefined : 'strings must be well-formed Unicode';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'numbers must be finite';
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      return 'integers must be within ±(2^53 - 1); send larger values as strings';
    }
    if (value !== 0 && Math.abs(value) < smallestNumber) return tooSmallNumberIssue;
    return undefined;
  }
  if (typeof value === 'object') {
    // Checked among objects only, so strings and numbers, nearly every value, pay nothing for it.
    if (value instanceof InexactNumber) return inexactNumberIssue(value.source);
    if (depth >= limits.maxNestingDepth) return nestingIssue;
    const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item] as const) : Object.entries(value);
    for (const [key, item] of entries) {
      const keyIssue = Array.isArray(value) ? undefined : nestedKeyIssue(key);
      if (keyIssue) return keyIssue;
      const issue = valueIssue(item, depth + 1);
      if (issue) return issue;
    }
    return undefined;
  }
  return 'unsupported value type';
}

/**
 * One field's value as it would be stored: coerced to its declared type (from its body's kind), then checked as every
 * stored value is. A `null` value is a removal (a form `json` field holding null). The importer checks its rows with
 * it before sending them, so that a row is refused there for what the API would refuse it for.
 */
export function storableFieldValue(type: FieldType | undefined, raw: unknown, source: BodySource): Coercion {
  let value = raw;
  if (type) {
    const coerced = coerceFieldValue(raw, type, source);
    if (!coerced.ok || coerced.value === null) return coerced;
    value = coerced.value;
  }
  const issue = valueIssue(value);
  return issue ? { ok: false, issue } : { ok: true, value };
}

export function validateUpsertPayload(model: ModelDefinition, payload: RecordPayload): ValidatedUpsert {
  const issues: FieldIssue[] = [];
  const set: [string, unknown][] = [];
  const unset: string[] = [];
  // Made only when a form `json` field holds null.
  let removedByNull: string[] | undefined;
  const seen = new Set<string>();

  // Distinct names can be too many only when the entries are, so they are counted only then.
  if (payload.set.length + payload.unset.length > limits.maxFieldsPerPayload) {
    const fieldCount = new Set([...payload.set.map(([name]) => name), ...payload.unset]).size;
    if (fieldCount > limits.maxFieldsPerPayload) {
      throw new ValidationError(`A payload may have at most ${limits.maxFieldsPerPayload} top-level fields; this one has ${fieldCount}`, [
        { field: '*', issue: `at most ${limits.maxFieldsPerPayload} fields per payload` },
      ]);
    }
  }

  for (const [name, raw] of payload.set) {
    const nameIssue = fieldNameIssue(name);
    if (nameIssue) {
      issues.push({ field: name, issue: nameIssue });
      continue;
    }
    seen.add(name);
    const stored = storableFieldValue(Object.hasOwn(model.fields, name) ? model.fields[name]!.type : undefined, raw, payload.source);
    if (!stored.ok) {
      issues.push({ field: name, issue: stored.issue });
      continue;
    }
    // A form `json` field of `null`: JSON null, which removes a field here as it does in a JSON body.
    if (stored.value === null) {
      seen.delete(name);
      (removedByNull ??= []).push(name);
      continue;
    }
    set.push([name, stored.value]);
  }

  for (const name of new Set(removedByNull ? [...payload.unset, ...removedByNull] : payload.unset)) {
    const nameIssue = fieldNameIssue(name);
    if (nameIssue) issues.push({ field: name, issue: nameIssue });
    else if (seen.has(name)) issues.push({ field: name, issue: 'field is both set and removed in one payload' });
    else if (name === model.uniqueField) issues.push({ field: name, issue: 'the unique field cannot be removed' });
    else unset.push(name);
  }

  // The unique field becomes the id; link fields are normalized the same way, so they match the linked record's id.
  let id: string | undefined;
  const uniqueMissing =
    !set.some(([name]) => name === model.uniqueField) && !issues.some((i) => i.field === model.uniqueField) && !payload.unset.includes(model.uniqueField);
  for (let i = 0; i < set.length; i += 1) {
    const [name, value] = set[i]!;
    const definition = Object.hasOwn(model.fields, name) ? model.fields[name] : undefined;
    if (name !== model.uniqueField && !definition?.linksTo) continue;
    const normalized = normalizeId(value, definition?.type ?? 'string');
    if (!normalized.ok) {
      issues.push({ field: name, issue: normalized.issue });
      continue;
    }
    set[i] = [name, normalized.id];
    if (name === model.uniqueField) id = normalized.id;
  }

  if (uniqueMissing) {
    // Its own code (SPEC), with every other bad field of the payload named beside it (link fields included), as a
    // validation_failed names all.
    throw new MissingUniqueFieldError(`The unique field "${model.uniqueField}" of model "${model.name}" is required`, [
      { field: model.uniqueField, issue: 'is required' },
      ...issues,
    ]);
  }
  if (issues.length > 0 || id === undefined) {
    const fields = [...new Set(issues.map((i) => i.field))].join(', ');
    throw new ValidationError(`Invalid field${issues.length === 1 ? '' : 's'}: ${fields}`, issues);
  }

  const size = set.reduce((sum, [name, value]) => sum + Buffer.byteLength(name, 'utf8') + 2 + valueSize(value), 0);
  if (size > limits.maxRecordBytes) {
    throw new RecordTooLargeError(`The record would be about ${Math.ceil(size / 1024)} KB; the limit is ${limits.maxRecordBytes / 1024} KB`);
  }
  return { id, set, unset };
}
