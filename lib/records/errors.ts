/**
 * Typed domain errors. The domain and the store throw these; lib/http/error-envelope.ts maps each to its HTTP status
 * in one place. Nothing here knows about HTTP.
 */
export interface FieldIssue {
  readonly field: string;
  readonly issue: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: string;
  readonly details: readonly FieldIssue[] | undefined;

  constructor(message: string, details?: readonly FieldIssue[], options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The payload breaks a rule (field names, types, limits). Nothing was written. */
export class ValidationError extends DomainError {
  readonly code = 'validation_failed';
}

export class MissingUniqueFieldError extends DomainError {
  readonly code = 'missing_unique_field';
}

export class RecordNotFoundError extends DomainError {
  readonly code = 'record_not_found';
}

export class ModelNotFoundError extends DomainError {
  readonly code = 'model_not_found';
}

/** A listing that does not exist for this model, such as the customers of a customer: nothing links to it. */
export class NoSuchListingError extends DomainError {
  readonly code = 'route_not_found';
}

/** An If-Match or If-None-Match condition did not hold. */
export class PreconditionFailedError extends DomainError {
  readonly code = 'precondition_failed';
}

/** The stored record would exceed the item size limit. */
export class RecordTooLargeError extends DomainError {
  readonly code = 'record_too_large';
}

/** The database throttled or failed after the SDK's retries; the caller should retry after a pause. */
export class UnavailableError extends DomainError {
  readonly code = 'unavailable';
  readonly retryAfterSeconds: number;

  /** `cause`: the SDK's error behind it, for a caller that can say more (not enumerable, so no log line spells it out). */
  constructor(message: string, retryAfterSeconds = 1, options?: { readonly cause?: unknown }) {
    super(message, undefined, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A model that still has records cannot be deleted or re-keyed. */
export class ModelNotEmptyError extends DomainError {
  readonly code = 'model_not_empty';
}

/** The standard models cannot be deleted, and their unique field and standard fields cannot change. */
export class StandardModelError extends DomainError {
  readonly code = 'standard_model';
}
