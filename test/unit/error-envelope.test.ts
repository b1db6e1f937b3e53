import { mapError } from '../../lib/http/error-envelope.js';
import { parseWriteConditions } from '../../lib/http/conditional-headers.js';
import { HttpError } from '../../lib/http/http-error.js';
import {
  MissingUniqueFieldError,
  ModelNotFoundError,
  NoSuchListingError,
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
    [new NoSuchListingError('l'), 404, 'route_not_found'],
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
  it('reads If-Match versions, lists and *, and If-None-Match: *', () => {
    expect(parseWriteConditions({ 'if-match': '"3"' })).toEqual({ ifMatch: [3] });
    expect(parseWriteConditions({ 'if-match': 'W/"3"' })).toEqual({ ifMatch: [3] });
    expect(parseWriteConditions({ 'if-match': '3' })).toEqual({ ifMatch: [3] });
    expect(parseWriteConditions({ 'if-match': '"1", "2",W/"2"' })).toEqual({ ifMatch: [1, 2] });
    // RFC 9110 lists: empty elements are skipped, and a comma inside an ETag's quotes belongs to the ETag.
    expect(parseWriteConditions({ 'if-match': '"1", , "2",' })).toEqual({ ifMatch: [1, 2] });
    expect(parseWriteConditions({ 'if-match': '"a,b", "3"' })).toEqual({ ifMatch: [3] });
    expect(parseWriteConditions({ 'if-match': ' * ' })).toEqual({ ifMatch: '*' });
    expect(parseWriteConditions({ 'if-none-match': '*' })).toEqual({ createOnly: true });
    expect(parseWriteConditions({})).toEqual({});
  });
  it('answers 412 at once for ETags no record can have, leaving out those it cannot match from a list', () => {
    for (const header of ['"a"', '"01"', '"0"', '""']) {
      expect(() => parseWriteConditions({ 'if-match': header })).toThrow(expect.objectContaining({ statusCode: 412, code: 'precondition_failed' }));
    }
    expect(parseWriteConditions({ 'if-match': '"01", "4"' })).toEqual({ ifMatch: [4] });
  });
  it('refuses anything that is not a list of ETags with a 400', () => {
    const tooMany = Array.from({ length: 21 }, (_, i) => `"${i + 1}"`).join(', ');
    for (const headers of [{ 'if-match': 'yesterday' }, { 'if-match': '"1" "2"' }, { 'if-match': '"1",x' }, { 'if-match': ',' }, { 'if-match': tooMany }, { 'if-none-match': '"1"' }]) {
      expect(() => parseWriteConditions(headers)).toThrow(expect.objectContaining({ statusCode: 400, code: 'malformed_header' }));
    }
  });
});
