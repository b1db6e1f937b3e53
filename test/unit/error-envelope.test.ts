import { mapError } from '../../lib/http/error-envelope.js';
import { parseWriteConditions } from '../../lib/http/conditional-headers.js';
import { HttpError } from '../../lib/http/http-error.js';
import {
  MissingUniqueFieldError,
  ModelNotFoundError,
  PreconditionFailedError,
  RecordNotFoundError,
  RecordTooLargeError,
  UnavailableError,
  ValidationError,
} from '../../lib/records/errors.js';

describe('mapError', () => {
  it.each([
    [new ValidationError('v', [{ field: 'a', issue: 'b' }]), 422, 'validation_failed'],
    [new MissingUniqueFieldError('m'), 422, 'missing_unique_field'],
    [new RecordNotFoundError('r'), 404, 'record_not_found'],
    [new ModelNotFoundError('m'), 404, 'model_not_found'],
    [new PreconditionFailedError('p'), 412, 'precondition_failed'],
    [new RecordTooLargeError('t'), 413, 'record_too_large'],
    [new UnavailableError('u'), 503, 'unavailable'],
    [new HttpError(415, 'unsupported_media_type', 'x'), 415, 'unsupported_media_type'],
  ])('maps %p to %i %s', (error, status, code) => {
    const mapped = mapError(error, 'req-1');
    expect(mapped.statusCode).toBe(status);
    expect(mapped.envelope.error.code).toBe(code);
    expect(mapped.envelope.error.request_id).toBe('req-1');
  });

  it('adds Retry-After to a 503 and the details to a 422', () => {
    expect(mapError(new UnavailableError('u', 2), 'r').headers).toEqual({ 'Retry-After': '2' });
    expect(mapError(new ValidationError('v', [{ field: 'a', issue: 'b' }]), 'r').envelope.error.details).toEqual([{ field: 'a', issue: 'b' }]);
  });

  it('turns an unknown error into a bare 500 that reveals nothing', () => {
    const mapped = mapError(new Error('connection string postgres://secret'), 'req-2');
    expect(mapped.statusCode).toBe(500);
    expect(mapped.expected).toBe(false);
    expect(JSON.stringify(mapped.envelope)).not.toContain('secret');
  });
});

describe('parseWriteConditions', () => {
  it('reads If-Match versions and If-None-Match: *', () => {
    expect(parseWriteConditions({ 'if-match': '"3"' })).toEqual({ ifMatch: 3 });
    expect(parseWriteConditions({ 'if-match': 'W/"3"' })).toEqual({ ifMatch: 3 });
    expect(parseWriteConditions({ 'if-none-match': '*' })).toEqual({ createOnly: true });
    expect(parseWriteConditions({})).toEqual({});
  });
  it('refuses anything else with a 400', () => {
    for (const headers of [{ 'if-match': '"a"' }, { 'if-match': '"1", "2"' }, { 'if-none-match': '"1"' }]) {
      expect(() => parseWriteConditions(headers)).toThrow(HttpError);
    }
  });
});
