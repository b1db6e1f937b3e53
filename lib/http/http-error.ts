/** An error that belongs to the HTTP layer itself (body format, headers), with its status already decided. */
import type { FieldIssue } from '../records/errors.js';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: readonly FieldIssue[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The 400 `malformed_header` every header check answers: the message, and the header named in `details`. */
export function malformedHeader(name: string, message: string, issue: string): HttpError {
  return new HttpError(400, 'malformed_header', message, [{ field: name, issue }]);
}
