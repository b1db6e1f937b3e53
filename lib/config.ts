/**
 * Configuration is read once, when a module loads, and fails fast: a missing TABLE_NAME is an error at start,
 * not an empty string at the first call.
 */
import { resolve } from 'node:path';

/**
 * A path a user typed on a script's command line, from the directory where `npm run` was typed (npm runs scripts from
 * the package's root and says where it was called in INIT_CWD).
 */
export const pathFromCaller = (path: string): string => resolve(process.env.INIT_CWD ?? process.cwd(), path);

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
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`Environment variable ${name} must be a whole number, got "${value}"`);
  return parsed;
}
