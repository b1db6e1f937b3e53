/**
 * Resolves a model name in a workspace. Standard models are constants and cost no read; an unknown name is a 404.
 */
import { ModelNotFoundError } from '../records/errors.js';
import { modelNamePattern, type ModelDefinition } from './model-definition.js';
import { findStandardModel } from './standard-models.js';

export interface ModelRegistry {
  resolve(workspace: string, name: string): Promise<ModelDefinition>;
}

export class StandardModelRegistry implements ModelRegistry {
  async resolve(_workspace: string, name: string): Promise<ModelDefinition> {
    const model = modelNamePattern.test(name) ? findStandardModel(name) : undefined;
    if (!model) throw new ModelNotFoundError(`Model "${name}" does not exist in this workspace`);
    return model;
  }
}
