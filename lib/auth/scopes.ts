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

/**
 * Every request parses its key's scopes; a key carries one of a handful of distinct strings, so each is parsed once and
 * the frozen result shared (at most 64 are kept, so a flood of odd strings cannot grow the map).
 */
const parsed = new Map<string, readonly Scope[]>();

export function parseScopes(value: string | undefined | null): readonly Scope[] {
  if (!value) return [];
  let scopes = parsed.get(value);
  if (!scopes) {
    scopes = Object.freeze(value.split(',').filter(isScope));
    if (parsed.size < 64) parsed.set(value, scopes);
  }
  return scopes;
}
