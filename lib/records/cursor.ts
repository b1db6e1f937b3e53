/**
 * Opaque list cursors: base64url of a small JSON document naming the list it belongs to, the workspace it was made for
 * and where it stands. The workspace is there only as a digest (a cursor never shows a workspace's name) and a list
 * reads only the workspace of its key, so a cursor could never reach another workspace's records; but a cursor made for
 * one workspace and sent with another's key would silently skip records there, so it is refused like any cursor the
 * list did not make. A cursor is not signed: one edited by hand that still names this list and a valid position is
 * taken, and can only move the walk within the caller's own list (skip or repeat records it may read anyway).
 */
import { createHash } from 'node:crypto';
import { ValidationError } from './errors.js';

/** The list a cursor belongs to: the workspace it was made for and the list's name within it. */
export interface CursorScope {
  readonly workspace: string;
  readonly list: string;
}

function workspaceDigest(workspace: string): string {
  return createHash('sha256').update(workspace).digest('base64url').slice(0, 16);
}

export function encodeCursor(scope: CursorScope, position: unknown): string {
  return Buffer.from(JSON.stringify({ v: 1, l: scope.list, w: workspaceDigest(scope.workspace), p: position }), 'utf8').toString('base64url');
}

/** The position in a cursor made by {@link encodeCursor} for the same list and workspace, or a 422 naming the cursor. */
export function decodeCursor<P>(cursor: string, scope: CursorScope, isPosition: (value: unknown) => value is P): P {
  let parsed: unknown;
  try {
    // Node's decoder skips characters outside base64url and takes padding: only the exact text a list sent is read.
    const bytes = Buffer.from(cursor, 'base64url');
    parsed = bytes.toString('base64url') === cursor ? JSON.parse(bytes.toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  const document = parsed as { v?: unknown; l?: unknown; w?: unknown; p?: unknown } | undefined;
  if (!document || document.v !== 1 || document.l !== scope.list || document.w !== workspaceDigest(scope.workspace) || !isPosition(document.p)) {
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
