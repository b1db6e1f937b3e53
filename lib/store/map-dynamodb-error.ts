/**
 * SDK errors to domain errors, in one place. Throttling, service faults and network failures that survive the SDK's
 * retries become UnavailableError (503 with Retry-After); an item over DynamoDB's size limit becomes
 * RecordTooLargeError (413). Anything else is a defect and is rethrown as it is.
 */
import { ConditionalCheckFailedException, TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { RecordTooLargeError, UnavailableError } from '../records/errors.js';

const unavailableNames = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'LimitExceededException',
  'TransactionConflictException',
  // A transaction sent again while its first attempt is still in flight: it may yet be applied.
  'TransactionInProgressException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const transientCancellations = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded', 'TransactionConflict']);

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

export function mapDynamoDbError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { name, message } = error;
  const code = (error as { code?: string }).code;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (name === 'ValidationException' && /item size (?:to update )?has exceeded/i.test(message)) {
    // The payload alone was within the limit (lib/records/payload.ts): merged into what is stored, the record is not.
    return new RecordTooLargeError(
      'The stored record with this payload merged in would be over 400 KB, the most one record can hold; remove fields from it (null or _unset) or send smaller values',
    );
  }
  if (
    unavailableNames.has(name) ||
    // A transaction cancelled because one of its items was throttled or in another transaction: nothing was written.
    cancellationCodes(error)?.some((reason) => reason !== undefined && transientCancellations.has(reason)) ||
    (code !== undefined && networkCodes.has(code)) ||
    (status !== undefined && status >= 500) ||
    (error as { $retryable?: unknown }).$retryable !== undefined
  ) {
    // The SDK's error goes along as the cause: what a caller that can say more (the admin CLI: no stack running) reads.
    return new UnavailableError('The database is unavailable or throttling; retry after a pause', 1, { cause: error });
  }
  return error;
}

/**
 * The network failure behind an error, on the error or on its cause (an UnavailableError above keeps the SDK's error as
 * its cause): a connection refused or reset, a host unknown. Undefined for any other error.
 */
export function networkFailureCode(error: unknown): string | undefined {
  const codes = [(error as { code?: string } | undefined)?.code, (error as { cause?: { code?: string } } | undefined)?.cause?.code];
  return codes.find((code) => code !== undefined && networkCodes.has(code));
}

/** Failures that DynamoDB answered before doing anything: a throttle applies nothing. */
const refusedNames = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException', 'TransactionConflictException']);
/** Network failures before a request was sent: nothing reached DynamoDB. */
const unsentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/**
 * Whether a write that ended in this UnavailableError may still have been applied: its answer lost, a timeout, a
 * server error. Not when its one attempt was refused before DynamoDB did anything (a throttle) or never sent; after
 * several attempts an earlier one may have been applied whatever the last one's error.
 */
export function mayHaveBeenApplied(error: UnavailableError): boolean {
  const cause = error.cause as { name?: string; code?: string; $metadata?: { attempts?: number } } | undefined;
  if ((cause?.$metadata?.attempts ?? 1) > 1) return true;
  return !(refusedNames.has(cause?.name ?? '') || unsentCodes.has(cause?.code ?? ''));
}

/** Runs a database call and translates its failure. */
export async function withErrorMapping<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw mapDynamoDbError(error);
  }
}

/**
 * A write whose condition failed, which callers answer themselves (not a fault, so never mapped above). Caught by class
 * or by name, so a second copy of the SDK in a bundle, or the document client's, cannot hide it.
 */
export function isConditionFailure(error: unknown): error is ConditionalCheckFailedException {
  return error instanceof ConditionalCheckFailedException || (error as Error | undefined)?.name === 'ConditionalCheckFailedException';
}

/** Why a transaction was cancelled, one reason per action in order, or undefined when the error is something else. */
export function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if (error instanceof TransactionCanceledException || (error as Error | undefined)?.name === 'TransactionCanceledException') {
    return (error as TransactionCanceledException).CancellationReasons ?? [];
  }
  return undefined;
}

/**
 * Whether a write was refused only because a transaction held one of its items at that moment: a plain write's
 * TransactionConflictException, or a transaction cancelled for a conflict (and for no failed condition). Nothing was
 * written; the SDK does not send it again.
 */
function isTransactionConflict(error: unknown): boolean {
  if ((error as Error | undefined)?.name === 'TransactionConflictException') return true;
  const codes = cancellationCodes(error);
  return codes !== undefined && codes.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed');
}

/**
 * Sends a write, and sends it again after a short random pause (growing with each try) while a transaction holding its
 * item refuses it, `attempts` times in all; any other failure, or the last refusal, is thrown.
 */
export async function sendRetryingConflicts<T>(send: () => Promise<T>, attempts: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!isTransactionConflict(error) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80 * attempt));
    }
  }
}

/** The codes of {@link cancellationReasons}. */
export function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  return cancellationReasons(error)?.map((reason) => reason.Code);
}
