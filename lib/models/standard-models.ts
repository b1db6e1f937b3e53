import type { ModelDefinition } from './model-definition.js';

/** The two models every workspace has (SPEC section 2). */
export const standardModels: Readonly<Record<string, ModelDefinition>> = {
  account: {
    name: 'account',
    uniqueField: 'name',
    fields: { name: { type: 'string' } },
    standard: true,
  },
  customer: {
    name: 'customer',
    uniqueField: 'email',
    fields: { email: { type: 'email' }, account: { type: 'string', linksTo: 'account' } },
    standard: true,
  },
};

export function findStandardModel(name: string): ModelDefinition | undefined {
  return Object.hasOwn(standardModels, name) ? standardModels[name] : undefined;
}
