/** The shape of a model: standard models are constants, custom models will be stored per workspace. */
export const fieldTypes = ['string', 'number', 'boolean', 'datetime', 'email', 'json'] as const;
export type FieldType = (typeof fieldTypes)[number];

export interface FieldDefinition {
  readonly type: FieldType;
  /** The field holds the unique value of a record of this model (a link, resolved when a record is returned). */
  readonly linksTo?: string;
}

export interface ModelDefinition {
  readonly name: string;
  readonly uniqueField: string;
  readonly fields: Readonly<Record<string, FieldDefinition>>;
  readonly standard: boolean;
}

/** Model names: lower-case letter first, then lower-case letters, digits and underscores, 63 characters at most. */
export const modelNamePattern = /^[a-z][a-z0-9_]{0,62}$/;
