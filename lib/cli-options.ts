/**
 * What the operator scripts (`npm run import`, `soak`, `admin`) read from their command line the same way. Kept apart
 * from lib/config.ts, which the Lambda functions import: commander has no place in their bundles.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';

/**
 * A path a user typed on a script's command line, from the directory where `npm run` was typed (npm runs scripts from
 * the package's root and says where it was called in INIT_CWD).
 */
export const pathFromCaller = (path: string): string => resolve(process.env.INIT_CWD ?? process.cwd(), path);

/** A commander parser for a whole number within [min, max]; anything else is refused before the script starts. */
export function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return Number(value);
  };
}
