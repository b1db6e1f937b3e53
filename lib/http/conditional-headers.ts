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
import { HttpError, malformedHeader } from './http-error.js';

export function etag(version: number): string {
  return `"${version}"`;
}

/** A header this parser cannot read: the message names the header, `details` says what it must be. */
function malformedCondition(name: string, detail: string): HttpError {
  return malformedHeader(name, `${name}: ${detail}`, detail);
}

/**
 * One list element at `lastIndex`: an entity-tag (RFC 9110: optional W/, then opaque characters in double quotes, a
 * comma among them), or the bare digits we also take; then optional whitespace and the comma before the next element.
 */
const listElement = /[ \t]*(?:(?:W\/)?"([\x21\x23-\x7e\x80-\xff]*)"|(\d+))[ \t]*(?:,|$)/y;
/** An empty list element (RFC 9110's list syntax allows them: `"1", , "2"`), or the blanks at the end: skipped. */
const emptyElement = /[ \t]*(?:,|$)/y;
/** A version as this API writes it in an ETag: no sign, no leading zero, within the safe integers. */
const versionText = /^[1-9]\d{0,14}$/;

function parseIfMatch(header: string): '*' | number[] {
  if (header.trim() === '*') return '*';
  const malformed = () => malformedCondition('If-Match', 'must be * or ETags as the API returns them, e.g. "3" (a list: "3", "4")');
  const tags: string[] = [];
  let at = 0;
  while (at < header.length) {
    emptyElement.lastIndex = at;
    if (emptyElement.test(header)) {
      at = emptyElement.lastIndex;
      continue;
    }
    listElement.lastIndex = at;
    const match = listElement.exec(header);
    if (!match) throw malformed();
    tags.push(match[1] ?? match[2]!);
    at = listElement.lastIndex;
  }
  if (tags.length === 0) throw malformed();
  if (tags.length > maxIfMatchVersions) throw malformedCondition('If-Match', `names at most ${maxIfMatchVersions} ETags`);
  const versions = tags.filter((text) => versionText.test(text)).map(Number);
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
    if (ifNoneMatch.trim() !== '*') throw malformedCondition('If-None-Match', 'only * is supported');
    conditions.createOnly = true;
  }
  return conditions;
}
