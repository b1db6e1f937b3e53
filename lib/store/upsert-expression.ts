/**
 * Builds the one UpdateItem that performs an upsert: a pure function, unit-tested on its output.
 *
 * - Every field name of a client goes through a `#` placeholder and every value through a `:` placeholder; a client's
 *   field name is never spliced into an expression string. The item's own attributes ({@link recordAttributes}) are
 *   named directly: they are constants of this code and none is a DynamoDB reserved word (DynamoDB refuses a reserved
 *   word outside a placeholder, so the upsert tests on DynamoDB Local fail if one ever is). A placeholder costs bytes
 *   in every request and a map entry for the SDK and DynamoDB to read: naming them directly took about 0.006x off the
 *   in-process ratio of `npm run bench` (docs/capacity.md).
 * - User fields are stored as top-level attributes named `f_<field>`, so a merge is a plain SET/REMOVE per field, works
 *   on an item that does not exist yet (a map attribute would not), and can never collide with a system attribute.
 * - The ConditionExpression lets the write happen only when it changes something: the repeated identical upsert fails
 *   the condition and returns the stored item (ReturnValuesOnConditionCheckFailure), so the version and updated_at stay.
 * - DynamoDB allows 4 KB and 300 operators per expression. The exact "changes something" test costs two operators and
 *   up to 30 bytes per field, so it is used while it fits; for larger payloads the test compares a digest of the
 *   payload with the digest stored by the last changing write (see {@link UpsertExpression.changeTest}).
 */
import { createHash } from 'node:crypto';
import type { IfMatch } from './record-store.js';

export const fieldAttributePrefix = 'f_';

/** System attributes of a record item. None starts with {@link fieldAttributePrefix}. */
export const recordAttributes = {
  version: 'v',
  createdAt: 'ca',
  updatedAt: 'ua',
  /**
   * The stamp of the last changing write: `<payload digest>.<write token>`, the digest only for a payload too large for
   * the exact change test (which compares it), else empty. The token is unique to the upsert: when an attempt's
   * answer is lost (a timeout, a cut connection) and the SDK sends the same request again, the repeat's failed condition
   * returns the item, and the token tells the store that the write it finds is its own. One attribute set on every
   * write, where a digest removed by every small write and a token of its own took two.
   */
  writeStamp: 'pd',
  /** Listing index keys: `<workspace>#<model>#<shard>` and the record's id (every record has both). */
  listPartition: 'lpk',
  listSort: 'lsk',
  /** Link index keys (sparse): `<workspace>#<linked model>#<linked id>` and `<model>#<id>`. */
  linkPartition: 'apk',
  linkSort: 'ask',
} as const;

/**
 * The write stamp's format, in one place: what a write leaves (`<digest>.<token>`, the digest empty for a small
 * payload), what a large payload's change test looks for (the stamp of a write of the same payload), and whether a
 * stored stamp is a given upsert's own.
 */
const writeStamp = (writeToken: string, digest: string) => `${stampPrefix(digest)}${writeToken}`;
const stampPrefix = (digest: string) => `${digest}.`;
export const isOwnWrite = (storedStamp: string | undefined, writeToken: string) => storedStamp?.endsWith(stampPrefix('') + writeToken) === true;

/** The name of one of the item's own attributes: only these are written into an expression without a placeholder. */
export type SystemAttribute = (typeof recordAttributes)[keyof typeof recordAttributes];

/** DynamoDB's limits on one expression string. */
export const expressionLimits = { maxLength: 4096, maxOperators: 300 } as const;

/** What the exact change test may use, leaving room for the If-Match clause and the NOT. */
const exactTestBudget = { maxLength: 3600, maxOperators: 280 } as const;

export interface UpsertExpressionInput {
  /** Fields to set, in payload order, already validated and coerced. */
  readonly set: ReadonlyArray<readonly [string, unknown]>;
  /** Fields to remove. */
  readonly unset: readonly string[];
  /** ISO timestamp of this write. */
  readonly now: string;
  /** Unique to this upsert (not to an attempt of it): stored in the write stamp. */
  readonly writeToken: string;
  /** Apply only when the record exists (`*`) or its version is one of these (If-Match). */
  readonly ifMatch?: IfMatch;
  /** Apply only when the record does not exist (If-None-Match: *). */
  readonly createOnly?: boolean;
  /** System attributes to set as well (index keys); not part of the change test. */
  readonly systemSet?: ReadonlyArray<readonly [SystemAttribute, string]>;
  /** System attributes to remove as well (index keys of a removed link). */
  readonly systemRemove?: readonly SystemAttribute[];
}

export interface UpsertExpression {
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  /** The client's field names by placeholder; absent when there are none, since DynamoDB refuses an empty map. */
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
  /** `exact` compares every field; `digest` compares the payload digest (sound, but a no-op after an interleaved write counts as a change). */
  readonly changeTest: 'exact' | 'digest' | 'create-only';
}

const placeholderAlphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Short placeholder suffix for the i-th field: 1 character below 62 fields, 2 below 3,844. */
function placeholder(index: number): string {
  let n = index;
  let out = '';
  do {
    out = placeholderAlphabet[n % 62] + out;
    n = Math.floor(n / 62);
  } while (n > 0);
  return out;
}

const byKey = ([a]: readonly [string, unknown], [b]: readonly [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

/** A JSON object's keys in one order, at every depth (a stored map has none), for {@link payloadDigest}. */
function sortedKeys(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(Object.entries(value).sort(byKey));
}

/**
 * A digest of the payload: the same set and unset fields give the same digest, whatever the order of the fields or of
 * the keys of any object inside them (DynamoDB compares maps without order, as the exact change test does).
 */
export function payloadDigest(set: ReadonlyArray<readonly [string, unknown]>, unset: readonly string[]): string {
  const canonical = JSON.stringify([[...set].sort(byKey), [...unset].sort()], sortedKeys);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

/** Operators DynamoDB counts in a condition: comparators, AND/OR/NOT and functions. */
export function countOperators(expression: string): number {
  const comparators = expression.match(/<>|<=|>=|=|<|>/g)?.length ?? 0;
  const logical = expression.match(/\b(?:AND|OR|NOT|BETWEEN|IN)\b/g)?.length ?? 0;
  const functions = expression.match(/\b(?:attribute_exists|attribute_not_exists|attribute_type|begins_with|contains|size|if_not_exists|list_append)\(/g)?.length ?? 0;
  return comparators + logical + functions;
}

/** At most this many ETags in one If-Match: each is a value in the condition, whose room the exact change test shares. */
export const maxIfMatchVersions = 20;

/**
 * The condition If-Match adds, its values put in `values`: `attribute_exists(v)` for `*`, `v = :_expected` for one
 * version, `v IN (...)` for several. Shared by the upsert and the delete.
 */
export function versionCondition(ifMatch: IfMatch, values: Record<string, unknown>): string {
  const { version: v } = recordAttributes;
  if (ifMatch === '*') return `attribute_exists(${v})`;
  if (ifMatch.length === 0 || ifMatch.length > maxIfMatchVersions) throw new Error(`If-Match takes 1 to ${maxIfMatchVersions} versions`);
  if (ifMatch.length === 1) {
    values[':_expected'] = ifMatch[0];
    return `${v} = :_expected`;
  }
  const names = ifMatch.map((version, i) => {
    values[`:_e${i}`] = version;
    return `:_e${i}`;
  });
  return `${v} IN (${names.join(', ')})`;
}

export function buildUpsertExpression(input: UpsertExpressionInput): UpsertExpression {
  const { version: v, createdAt: ca, updatedAt: ua, writeStamp: pd } = recordAttributes;
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {
    ':_now': input.now,
    ':_zero': 0,
    ':_one': 1,
  };

  const assignments = [
    `${v} = if_not_exists(${v}, :_zero) + :_one`,
    `${ca} = if_not_exists(${ca}, :_now)`,
    `${ua} = :_now`,
  ];
  const removals: string[] = [];
  const unchangedTerms: string[] = [];

  (input.systemSet ?? []).forEach(([attribute, value], i) => {
    values[`:_s${i}`] = value;
    assignments.push(`${attribute} = :_s${i}`);
  });
  removals.push(...(input.systemRemove ?? []));

  let index = 0;
  for (const [field, value] of input.set) {
    const p = placeholder(index++);
    names[`#${p}`] = fieldAttributePrefix + field;
    values[`:${p}`] = value;
    assignments.push(`#${p}=:${p}`);
    unchangedTerms.push(`#${p}=:${p}`);
  }
  for (const field of input.unset) {
    const p = placeholder(index++);
    names[`#${p}`] = fieldAttributePrefix + field;
    removals.push(`#${p}`);
    unchangedTerms.push(`attribute_not_exists(#${p})`);
  }

  // The exact test has one comparator or function per term, an AND between terms and one NOT: 2n operators.
  const exact = `NOT (${unchangedTerms.join(' AND ')})`;
  const exactFits = unchangedTerms.length > 0 && exact.length <= exactTestBudget.maxLength && 2 * unchangedTerms.length <= exactTestBudget.maxOperators;
  // Every write replaces the stamp. A digest is in it only after a payload too large for the exact test, the only
  // kind that compares it, so a digest never outlives the write that stored it and cannot match after another change.
  const digest = exactFits ? '' : payloadDigest(input.set, input.unset);
  values[':_pd'] = writeStamp(input.writeToken, digest);
  assignments.push(`${pd} = :_pd`);

  const updateExpression = `SET ${assignments.join(', ')}${removals.length > 0 ? ` REMOVE ${removals.join(', ')}` : ''}`;

  let changeTest: UpsertExpression['changeTest'];
  let changes: string;
  if (input.createOnly) {
    changeTest = 'create-only';
    changes = `attribute_not_exists(${v})`;
  } else if (exactFits) {
    changeTest = 'exact';
    changes = exact;
  } else {
    changeTest = 'digest';
    // The stored stamp starts with this payload's digest: the last changing write sent this very payload.
    values[':_pdp'] = stampPrefix(digest);
    changes = `NOT begins_with(${pd}, :_pdp)`;
  }

  let condition = changes;
  if (input.ifMatch !== undefined) condition = `${versionCondition(input.ifMatch, values)} AND (${changes})`;

  return {
    UpdateExpression: updateExpression,
    ConditionExpression: condition,
    ...(index > 0 ? { ExpressionAttributeNames: names } : {}),
    ExpressionAttributeValues: values,
    changeTest,
  };
}
