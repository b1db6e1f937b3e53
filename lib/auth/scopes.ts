/** The scopes an API key can carry (SPEC section 2). */
export const allScopes = ['records:read', 'records:write', 'models:write'] as const;

export type Scope = (typeof allScopes)[number];

export function isScope(value: string): value is Scope {
  return (allScopes as readonly string[]).includes(value);
}

/** Scopes travel through the authorizer context as one comma-separated string (context values must be scalars). */
export function formatScopes(scopes: readonly Scope[]): string {
  return scopes.join(',');
}

export function parseScopes(value: string | undefined | null): Scope[] {
  if (!value) return [];
  return value.split(',').filter(isScope);
}
