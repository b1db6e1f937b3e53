/**
 * Opaque list cursors: base64url of a small JSON document naming the list it belongs to and where it stands. The
 * workspace is never in a cursor (it comes from the key), so a cursor cannot reach another workspace's records.
 */
import { ValidationError } from './errors.js';

export function encodeCursor(list: string, position: unknown): string {
  return Buffer.from(JSON.stringify({ v: 1, l: list, p: position }), 'utf8').toString('base64url');
}

/** The position in a cursor made by {@link encodeCursor} for the same list, or a 422 naming the cursor. */
export function decodeCursor<P>(cursor: string, list: string, isPosition: (value: unknown) => value is P): P {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const document = parsed as { v?: unknown; l?: unknown; p?: unknown } | undefined;
  if (!document || document.v !== 1 || document.l !== list || !isPosition(document.p)) {
    throw new ValidationError('The cursor is not one this list returned; start again without it', [
      { field: 'cursor', issue: 'is not a cursor of this list' },
    ]);
  }
  return document.p;
}

/** `limit` from a query string: a whole number from 1 to max, default `fallback`. */
export function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new ValidationError(`limit must be a whole number from 1 to ${max}`, [{ field: 'limit', issue: `must be from 1 to ${max}` }]);
  }
  return Number(value);
}
