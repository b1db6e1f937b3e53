/**
 * Every error leaves as one shape (SPEC section 4):
 * `{"error": {"code", "message", "details"?, "request_id"}}`. Domain errors are mapped to their status here, in one
 * place; anything unknown is a defect and becomes a bare 500 with the request id and no internals.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import {
  DomainError,
  MissingUniqueFieldError,
  ModelNotEmptyError,
  ModelNotFoundError,
  NoSuchListingError,
  PreconditionFailedError,
  RecordNotFoundError,
  RecordTooLargeError,
  StandardModelError,
  UnavailableError,
  ValidationError,
  type FieldIssue,
} from '../records/errors.js';
import { HttpError } from './http-error.js';

export interface ErrorEnvelope {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: readonly FieldIssue[];
    readonly request_id: string;
  };
}

export function errorEnvelope(code: string, message: string, requestId: string, details?: readonly FieldIssue[]): ErrorEnvelope {
  return { error: { code, message, ...(details && details.length > 0 ? { details } : {}), request_id: requestId } };
}

const statusByDomainError = new Map<Function, number>([
  [ValidationError, 422],
  [MissingUniqueFieldError, 422],
  [RecordNotFoundError, 404],
  [ModelNotFoundError, 404],
  [NoSuchListingError, 404],
  [PreconditionFailedError, 412],
  [RecordTooLargeError, 413],
  [UnavailableError, 503],
  [ModelNotEmptyError, 409],
  [StandardModelError, 409],
]);

export interface MappedError {
  readonly statusCode: number;
  readonly envelope: ErrorEnvelope;
  readonly headers: Record<string, string>;
  /** False for defects: the caller logs them in full. */
  readonly expected: boolean;
}

export function mapError(error: unknown, requestId: string): MappedError {
  if (error instanceof HttpError) {
    return {
      statusCode: error.statusCode,
      envelope: errorEnvelope(error.code, error.message, requestId, error.details),
      headers: { ...error.headers },
      expected: true,
    };
  }
  if (error instanceof DomainError) {
    const statusCode = statusByDomainError.get(error.constructor) ?? 500;
    const headers: Record<string, string> = {};
    if (error instanceof UnavailableError) headers['Retry-After'] = String(error.retryAfterSeconds);
    return { statusCode, envelope: errorEnvelope(error.code, error.message, requestId, error.details), headers, expected: statusCode < 500 || statusCode === 503 };
  }
  // Powertools' idempotency errors, by name (docs/api.md, "Idempotency-Key").
  const name = (error as Error | undefined)?.name;
  if (name === 'IdempotencyAlreadyInProgressError') {
    return { statusCode: 409, envelope: errorEnvelope('request_in_progress', 'A request with this Idempotency-Key is still in progress; retry after a pause', requestId), headers: { 'Retry-After': '1' }, expected: true };
  }
  if (name === 'IdempotencyValidationError') {
    return {
      statusCode: 422,
      envelope: errorEnvelope('idempotency_key_reused', 'This Idempotency-Key was used for a different request in the last 24 hours', requestId, [
        { field: 'Idempotency-Key', issue: 'already used for a different request' },
      ]),
      headers: {},
      expected: true,
    };
  }
  // middy's early timeout, thrown a moment before Lambda would end the invocation: the answer API Gateway gives for a
  // timeout (504 `timeout`) in the envelope, instead of a 500. Still logged in full: it is not the client's doing.
  if (name === 'TimeoutError' && ((error as Error).cause as { package?: string } | undefined)?.package === '@middy/core') {
    return { statusCode: 504, envelope: errorEnvelope('timeout', 'The request timed out; it may or may not have been applied, so retry it', requestId), headers: {}, expected: false };
  }
  if (name === 'IdempotencyPersistenceLayerError') {
    return { statusCode: 503, envelope: errorEnvelope('unavailable', 'The idempotency store is unavailable; retry after a pause', requestId), headers: { 'Retry-After': '1' }, expected: true };
  }
  return {
    statusCode: 500,
    envelope: errorEnvelope('internal_error', 'Internal error; the request id identifies it in the logs', requestId),
    headers: {},
    expected: false,
  };
}

/** A failed request's error mapped with its request id: API Gateway's, else Lambda's (a direct invocation). */
export function mapRequestError(request: { readonly event?: APIGatewayProxyEvent; readonly context?: { readonly awsRequestId?: string }; readonly error?: unknown }): MappedError {
  return mapError(request.error, request.event?.requestContext?.requestId ?? request.context?.awsRequestId ?? 'unknown');
}

export function errorResponse(mapped: MappedError): APIGatewayProxyResult {
  return {
    statusCode: mapped.statusCode,
    headers: { 'Content-Type': 'application/json', ...mapped.headers },
    body: JSON.stringify(mapped.envelope),
  };
}
