/** If-Match and If-None-Match (SPEC section 4, upsert rule 5). ETags are the record version: `"<version>"`. */
import type { WriteConditions } from '../records/record-service.js';
import { HttpError } from './http-error.js';

export function etag(version: number): string {
  return `"${version}"`;
}

function malformedHeader(name: string, detail: string): HttpError {
  return new HttpError(400, 'malformed_header', `${name}: ${detail}`, [{ field: name, issue: detail }]);
}

export function parseWriteConditions(headers: Readonly<Record<string, string | undefined>>): WriteConditions {
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  const conditions: { ifMatch?: number; createOnly?: boolean } = {};
  if (ifMatch !== undefined) {
    const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(ifMatch);
    if (!match) throw malformedHeader('If-Match', 'must be one ETag as returned by the API, e.g. "3"');
    conditions.ifMatch = Number(match[1]);
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw malformedHeader('If-None-Match', 'only * (create only) is supported');
    conditions.createOnly = true;
  }
  return conditions;
}
