/**
 * Resolves a model name in a workspace: a standard model (with any typed fields the workspace added) or a custom one.
 * Definitions are cached in each process for a bounded time (MODEL_CACHE_TTL_SECONDS, default 60), so a warm function
 * resolves a model without a read; a change made through another function is seen within that time. A name that is not
 * found is not cached, so a model defined a moment ago is found at once.
 */
import type { ModelDefinitionStore, StoredModelDefinition } from '../store/model-store.js';
import { ModelNotFoundError } from '../records/errors.js';
import { modelNamePattern, type ModelDefinition } from './model-definition.js';
import { findStandardModel, standardModels } from './standard-models.js';

export interface ModelRegistry {
  resolve(workspace: string, name: string): Promise<ModelDefinition>;
}

/** A standard model with a workspace's extra fields merged in; the standard fields always win. */
export function withExtension(standard: ModelDefinition, stored: StoredModelDefinition | undefined): ModelDefinition {
  if (!stored) return standard;
  return { ...standard, fields: { ...stored.fields, ...standard.fields } };
}

export function fromStored(stored: StoredModelDefinition): ModelDefinition {
  return { name: stored.name, uniqueField: stored.uniqueField, fields: stored.fields, standard: false };
}

export class CachingModelRegistry implements ModelRegistry {
  private readonly cache = new Map<string, { model: ModelDefinition; expiresAt: number }>();
  /**
   * How many definitions this process has changed. A read that began before a change may return the definition the
   * change replaced; it is not cached, or this process would keep the old one (a deleted model, a retyped field) for
   * the cache's whole time after the change, and its own next request would not see it.
   */
  private changes = 0;

  /**
   * @param maxEntries How many definitions the cache holds at most: a warm function serving many workspaces keeps the
   *   ones used last, so its memory does not grow with every workspace and model it has ever served.
   */
  constructor(
    private readonly store: ModelDefinitionStore,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 1_000,
  ) {}

  async resolve(workspace: string, name: string): Promise<ModelDefinition> {
    if (!modelNamePattern.test(name)) throw new ModelNotFoundError(`Model "${name}" does not exist in this workspace`);
    const cacheKey = `${workspace}#${name}`;
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expiresAt > this.now()) return cached.model;

    const changesBefore = this.changes;
    const stored = await this.store.getModel(workspace, name);
    const standard = findStandardModel(name);
    const model = standard ? withExtension(standard, stored) : stored ? fromStored(stored) : undefined;
    if (!model) {
      this.cache.delete(cacheKey);
      throw new ModelNotFoundError(`Model "${name}" does not exist in this workspace`);
    }
    if (this.ttlMs > 0 && this.changes === changesBefore) {
      // Set anew, so a Map's order is the order of last reads: the first entry is the one read longest ago.
      this.cache.delete(cacheKey);
      this.cache.set(cacheKey, { model, expiresAt: this.now() + this.ttlMs });
      if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    }
    return model;
  }

  /** Forgets a definition this process just changed, so its own next request sees the change. */
  invalidate(workspace: string, name: string): void {
    this.changes += 1;
    this.cache.delete(`${workspace}#${name}`);
  }
}

export const standardModelNames = Object.keys(standardModels);
