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
