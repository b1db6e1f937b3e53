/**
 * Defining, reading and deleting models (SPEC section 4, "Custom models"). Custom models are defined with
 * `{"unique_field": ..., "fields": {name: {"type": ...}}}`; the standard models can be given extra typed fields but keep
 * their unique field and standard fields, and cannot be deleted. A model can be deleted, or get another unique field,
 * only while it has no records.
 */
import { fieldNameIssue } from '../records/payload.js';
import { ModelNotEmptyError, ModelNotFoundError, StandardModelError, UnavailableError, ValidationError, type FieldIssue } from '../records/errors.js';
import { isJsonObject } from '../records/exact-json.js';
import { limits } from '../records/limits.js';
import { maxResponseBytes, responseBytes } from '../records/response-size.js';
import type { ModelDefinitionStore, StoredModelDefinition } from '../store/model-store.js';
import type { RecordStore } from '../store/record-store.js';
import { fieldTypes, modelNamePattern, type FieldDefinition, type FieldType, type ModelDefinition } from './model-definition.js';
import { fromStored, withExtension, type CachingModelRegistry } from './model-registry.js';
import { findStandardModel, standardModels } from './standard-models.js';

export interface ModelDocument {
  readonly name: string;
  readonly unique_field: string;
  readonly fields: Readonly<Record<string, { readonly type: FieldType }>>;
  readonly standard: boolean;
  readonly created_at: string | null;
  readonly updated_at: string | null;
}

const uniqueFieldTypes: readonly FieldType[] = ['string', 'email'];
/** The longest random pause before a PUT reads again after a concurrent PUT of the same model wrote first. */
const maxDefinePauseMs = 500;

/**
 * A field's definition only when the model declares it: field names come from clients, and a plain lookup would find
 * what every object inherits (`constructor`, `toString`), names SPEC stores like any other.
 */
function ownField(fields: Readonly<Record<string, FieldDefinition>>, name: string): FieldDefinition | undefined {
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

function toDocument(model: ModelDefinition, stored?: StoredModelDefinition): ModelDocument {
  const fields = Object.fromEntries(
    Object.entries(model.fields)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, definition]) => [name, { type: definition.type }]),
  );
  return {
    name: model.name,
    unique_field: model.uniqueField,
    fields,
    standard: model.standard,
    created_at: stored?.createdAt ?? null,
    updated_at: stored?.updatedAt ?? null,
  };
}

/** How many unknown properties of a definition are named one by one; past it, one issue counts them. */
const maxUnknownNamed = 10;

/** Validates a model definition body into its unique field and declared fields, or throws a ValidationError naming every problem. */
export function parseModelBody(name: string, body: unknown): { uniqueField?: string; fields: Record<string, FieldDefinition> } {
  const issues: FieldIssue[] = [];
  if (!isJsonObject(body)) {
    throw new ValidationError('A model definition is a JSON object', [{ field: '*', issue: 'must be an object' }]);
  }
  // Each unknown property is named, up to a few: the answer to a body of many thousands would be many times its size,
  // past what a Lambda may answer (a 502).
  const unknown = Object.keys(body).filter((key) => key !== 'unique_field' && key !== 'fields');
  if (unknown.length > maxUnknownNamed) issues.push({ field: '*', issue: `${unknown.length} unknown properties; use unique_field and fields` });
  else for (const key of unknown) issues.push({ field: key, issue: 'unknown property; use unique_field and fields' });
  const { unique_field: uniqueField, fields: rawFields } = body as { unique_field?: unknown; fields?: unknown };
  if (uniqueField !== undefined && (typeof uniqueField !== 'string' || fieldNameIssue(uniqueField))) {
    issues.push({ field: 'unique_field', issue: typeof uniqueField === 'string' ? fieldNameIssue(uniqueField)! : 'must be a field name' });
  }
  if (uniqueField === undefined && !findStandardModel(name)) issues.push({ field: 'unique_field', issue: 'is required' });
  const fields: Record<string, FieldDefinition> = {};
  if (rawFields !== undefined) {
    if (!isJsonObject(rawFields)) {
      issues.push({ field: 'fields', issue: 'must be an object of field name to {"type": ...}' });
    } else {
      const entries = Object.entries(rawFields);
      // Too many fields is said once, without checking each (as for a record's payload): a list of one issue per field
      // of many thousands is an answer many times the request's size. The unique field and a standard model's own
      // fields are not counted: a definition declares up to 300 others, and GET shows those among them, so what GET
      // answers can be PUT back.
      const standard = findStandardModel(name);
      const uncounted = new Set([...(typeof uniqueField === 'string' ? [uniqueField] : []), ...Object.keys(standard?.fields ?? {})]);
      const tooMany = entries.filter(([field]) => !uncounted.has(field)).length > limits.maxFieldsPerPayload;
      if (tooMany) issues.push({ field: 'fields', issue: `at most ${limits.maxFieldsPerPayload} fields besides the unique field and a standard model's own` });
      for (const [field, definition] of tooMany ? [] : entries) {
        const nameIssue = fieldNameIssue(field);
        if (nameIssue) {
          issues.push({ field: `fields.${field}`, issue: nameIssue });
          continue;
        }
        const type = (definition as { type?: unknown } | null)?.type;
        const extra = typeof definition === 'object' && definition !== null ? Object.keys(definition).filter((k) => k !== 'type') : [];
        if (typeof type !== 'string' || !(fieldTypes as readonly string[]).includes(type) || extra.length > 0) {
          issues.push({ field: `fields.${field}`, issue: `must be {"type": one of ${fieldTypes.join(', ')}}` });
          continue;
        }
        fields[field] = { type: type as FieldType };
      }
    }
  }
  const uniqueDefinition = typeof uniqueField === 'string' ? ownField(fields, uniqueField) : undefined;
  if (uniqueDefinition && !uniqueFieldTypes.includes(uniqueDefinition.type)) {
    issues.push({ field: `fields.${uniqueField}`, issue: 'the unique field must be of type string or email' });
  }
  if (issues.length > 0) throw new ValidationError(`Invalid model definition: ${issues.map((i) => i.field).join(', ')}`, issues);
  return { ...(typeof uniqueField === 'string' ? { uniqueField } : {}), fields };
}

/**
 * `GET /models` answers every definition of the workspace at once, and that answer must fit Lambda's 6 MB response: a
 * definition that would take the list past `maxResponseBytes` (lib/records/response-size.ts), and make it larger, is a
 * 422. Nothing else limits how many models a workspace has. The check holds against concurrent PUTs of other models:
 * only one of those that read the same definitions writes (lib/store/model-store.ts, putModel), and the others check
 * again against what it wrote.
 */
function checkModelsFitOneAnswer(stored: readonly StoredModelDefinition[], definition: StoredModelDefinition): void {
  const weigh = (models: readonly StoredModelDefinition[]) => responseBytes(JSON.stringify({ models: documentsOf(models) }));
  const weight = weigh([...stored.filter((model) => model.name !== definition.name), definition]);
  // A PUT that makes the answer no larger is taken even over the limit (a workspace that got there through concurrent
  // PUTs can still shrink or re-apply its definitions).
  if (weight > maxResponseBytes && weight > weigh(stored)) {
    throw new ValidationError(`The workspace's model definitions would take ${weight} bytes in GET /models, over its ${maxResponseBytes}`, [
      { field: 'fields', issue: 'the workspace has too many or too large model definitions; delete a model or declare fewer fields' },
    ]);
  }
}

/** `GET /models`'s list: the standard models first (with a workspace's extension), then the custom ones by name. */
function documentsOf(stored: readonly StoredModelDefinition[]): ModelDocument[] {
  const byName = new Map(stored.map((model) => [model.name, model]));
  const standard = Object.values(standardModels).map((model) => toDocument(withExtension(model, byName.get(model.name)), byName.get(model.name)));
  const custom = stored.filter((model) => !findStandardModel(model.name)).map((model) => toDocument(fromStored(model), model));
  return [...standard, ...custom.sort((a, b) => (a.name < b.name ? -1 : 1))];
}

export class ModelService {
  constructor(
    private readonly definitions: ModelDefinitionStore,
    private readonly records: RecordStore,
    private readonly registry: CachingModelRegistry,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async list(workspace: string): Promise<ModelDocument[]> {
    return documentsOf(await this.definitions.listModels(workspace));
  }

  async get(workspace: string, name: string): Promise<ModelDocument> {
    if (!modelNamePattern.test(name)) throw new ModelNotFoundError(`Model "${name}" does not exist in this workspace`);
    const stored = await this.definitions.getModel(workspace, name);
    const standard = findStandardModel(name);
    if (standard) return toDocument(withExtension(standard, stored), stored);
    if (!stored) throw new ModelNotFoundError(`Model "${name}" does not exist in this workspace`);
    return toDocument(fromStored(stored), stored);
  }

  /**
   * Creates or replaces a model definition; `created` tells which. Each attempt writes only over the definition it read,
   * so concurrent PUTs apply one after the other: one creates (201), the next ones replace what the one before wrote
   * (200), each checked against the records that exist then. A PUT that another one overtook reads again, after a
   * random pause that grows with each attempt, until `deadline` (epoch ms): past it, it answers 503 so that the request
   * ends in time. Of the PUTs that read the same definitions, one writes: n concurrent PUTs of a workspace's models,
   * of one model or of several, take about n attempts.
   */
  async define(workspace: string, name: string, body: unknown, deadline: number): Promise<{ created: boolean; model: ModelDocument }> {
    if (!modelNamePattern.test(name)) {
      throw new ValidationError('Model names are a lower-case letter, then up to 62 lower-case letters, digits and underscores', [
        { field: 'model', issue: 'must match ^[a-z][a-z0-9_]{0,62}$' },
      ]);
    }
    const parsed = parseModelBody(name, body);
    for (let attempt = 0; attempt === 0 || Date.now() < deadline; attempt++) {
      // One consistent read of the workspace's definitions serves both the definition this PUT replaces and the size
      // check of GET /models' answer; the count of their writes is read first, so the write below fails if any PUT
      // wrote after it (lib/store/model-store.ts, putModel).
      const version = await this.definitions.modelsVersion(workspace);
      const stored = await this.definitions.listModels(workspace);
      const existing = stored.find((model) => model.name === name);
      const definition = await this.nextDefinition(workspace, name, parsed, existing);
      checkModelsFitOneAnswer(stored, definition);
      if (!(await this.definitions.putModel(workspace, definition, existing, version))) {
        // Another PUT wrote first: read its definition again, after a random pause, so racing PUTs spread out.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(maxDefinePauseMs, 25 * 2 ** attempt)));
        continue;
      }
      this.registry.invalidate(workspace, name);
      const standard = findStandardModel(name);
      const model = standard ? withExtension(standard, definition) : fromStored(definition);
      return { created: !existing && !standard, model: toDocument(model, definition) };
    }
    throw new UnavailableError(`The workspace's model definitions kept changing while this definition of "${name}" was written; retry after a pause`);
  }

  /** What a PUT makes of the stored definition, or throws when the change is not allowed. */
  private async nextDefinition(
    workspace: string,
    name: string,
    parsed: ReturnType<typeof parseModelBody>,
    existing: StoredModelDefinition | undefined,
  ): Promise<StoredModelDefinition> {
    const standard = findStandardModel(name);
    const now = this.clock().toISOString();
    if (standard) {
      if (parsed.uniqueField !== undefined && parsed.uniqueField !== standard.uniqueField) {
        throw new StandardModelError(`The unique field of the standard model "${name}" is "${standard.uniqueField}" and cannot change`);
      }
      for (const [field, own] of Object.entries(standard.fields)) {
        const declared = ownField(parsed.fields, field);
        if (declared && declared.type !== own.type) {
          throw new StandardModelError(`The standard field "${name}.${field}" is of type ${own.type} and cannot change`);
        }
      }
      const extra = Object.fromEntries(Object.entries(parsed.fields).filter(([field]) => !ownField(standard.fields, field)));
      return { name, uniqueField: standard.uniqueField, fields: extra, createdAt: existing?.createdAt ?? now, updatedAt: now };
    }
    const uniqueField = parsed.uniqueField!;
    const fields = { ...parsed.fields, [uniqueField]: ownField(parsed.fields, uniqueField) ?? { type: 'string' as const } };
    // The unique field's type decides how ids are normalized (an email's is lower-cased), so changing it would leave
    // stored records under ids that no longer normalize to themselves: as unreachable as a changed unique field.
    const existingType = existing ? (ownField(existing.fields, existing.uniqueField)?.type ?? 'string') : undefined;
    if (existing && (existing.uniqueField !== uniqueField || existingType !== fields[uniqueField]!.type) && (await this.records.hasRecords(workspace, name))) {
      throw new ModelNotEmptyError(
        existing.uniqueField !== uniqueField
          ? `Model "${name}" has records, so its unique field cannot change from "${existing.uniqueField}"`
          : `Model "${name}" has records, so the type of its unique field "${uniqueField}" cannot change from ${existingType}`,
      );
    }
    return { name, uniqueField, fields, createdAt: existing?.createdAt ?? now, updatedAt: now };
  }

  async delete(workspace: string, name: string): Promise<void> {
    if (findStandardModel(name)) throw new StandardModelError(`The standard model "${name}" cannot be deleted`);
    if (!modelNamePattern.test(name) || !(await this.definitions.getModel(workspace, name))) {
      throw new ModelNotFoundError(`Model "${name}" does not exist in this workspace`);
    }
    if (await this.records.hasRecords(workspace, name)) {
      throw new ModelNotEmptyError(`Model "${name}" still has records; delete them first`);
    }
    // Concurrent DELETEs apply one after the other, as record deletes do: the one that removed the definition answers
    // 204, the others find nothing to delete (404).
    const deleted = await this.definitions.deleteModel(workspace, name);
    this.registry.invalidate(workspace, name);
    if (!deleted) throw new ModelNotFoundError(`Model "${name}" does not exist in this workspace`);
  }
}
