/**
 * Configuration is read once, when a module loads, and fails fast: a missing TABLE_NAME is an error at start,
 * not an empty string at the first call.
 */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(`Environment variable ${name} is required but not set`);
  }
  return value;
}

export function optionalIntEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') return fallback;
  // Digits only: Number() would also take `0x10`, `1e1` or `0b1` as whole numbers.
  const parsed = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(parsed)) throw new Error(`Environment variable ${name} must be a whole number, got "${value}"`);
  return parsed;
}
