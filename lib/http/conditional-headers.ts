/**
 * If-Match and If-None-Match (SPEC section 4, upsert rule 5; RFC 9110 section 13.1). ETags are the record version:
 * `"<version>"`.
 *
 * - If-Match: `*` (the record must exist) or one or more ETags separated by commas. An ETag this API could have made
 *   (`"3"`; leniently also `W/"3"` and a bare `3`) names that version; any other well-formed ETag (`"03"`, `"abc"`)
 *   names none, since If-Match compares ETags byte for byte. When no ETag can match, the answer is 412 at once: the
 *   precondition fails whatever is stored.
 * - If-None-Match: only `*`: on an upsert, create only; on a delete, delete only if there is no record, which can only
 *   ever answer 404 or 412, as RFC 9110 asks (it is not ignored on a destructive request).
 * - Anything that is not a list of ETags is a 400 `malformed_header`.
 */
import type { WriteConditions } from '../records/record-service.js';
import { maxIfMatchVersions } from '../store/upsert-expression.js';
import { HttpError } from './http-error.js';

export function etag(version: number): string {
  return `"${version}"`;
}

function malformedHeader(name: string, detail: string): HttpError {
  return new HttpError(400, 'malformed_header', `${name}: ${detail}`, [{ field: name, issue: detail }]);
}

/** One entity-tag (RFC 9110: optional W/, then opaque characters in double quotes), or the bare digits we also take. */
const entityTag = /^(?:W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$|^(\d+)$/;
/** A version as this API writes it in an ETag: no sign, no leading zero, within the safe integers. */
const versionText = /^[1-9]\d{0,14}$/;

function parseIfMatch(header: string): '*' | number[] {
  if (header.trim() === '*') return '*';
  const tags = header.split(',').map((tag) => tag.trim());
  const malformed = () => malformedHeader('If-Match', 'must be * or ETags as the API returns them, e.g. "3" (a list: "3", "4")');
  if (tags.length > maxIfMatchVersions) throw malformedHeader('If-Match', `names at most ${maxIfMatchVersions} ETags`);
  const versions: number[] = [];
  for (const tag of tags) {
    const match = entityTag.exec(tag);
    if (!match) throw malformed();
    const text = match[1] ?? match[2]!;
    if (versionText.test(text)) versions.push(Number(text));
  }
  if (versions.length === 0) {
    throw new HttpError(412, 'precondition_failed', 'If-Match names no ETag this API returns ("<version>"), so no record can match it');
  }
  return [...new Set(versions)];
}

export function parseWriteConditions(headers: Readonly<Record<string, string | undefined>>): WriteConditions {
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  const conditions: { ifMatch?: '*' | number[]; createOnly?: boolean } = {};
  if (ifMatch !== undefined) conditions.ifMatch = parseIfMatch(ifMatch);
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw malformedHeader('If-None-Match', 'only * is supported');
    conditions.createOnly = true;
  }
  return conditions;
}
