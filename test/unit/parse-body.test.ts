import fc from 'fast-check';
import { HttpError } from '../../lib/http/http-error.js';
import { parseContentType, parseForm, parseJson, parseJsonObjectBody, parseRecordBody } from '../../lib/http/parse-body.js';

const body = (text: string | Buffer, contentType?: string) => ({
  body: Buffer.from(text).toString('base64'),
  isBase64Encoded: true,
  contentType,
});

function rejection(run: () => unknown): { status: number; code: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return { status: error.statusCode, code: error.code };
    throw error;
  }
  throw new Error('expected an HttpError');
}

describe('form bodies', () => {
  it('decode + as space and percent-escapes as UTF-8', () => {
    expect(parseForm('name=Sterling+Cooper&city=Z%C3%BCrich&plus=%2B').set).toEqual([
      ['name', 'Sterling Cooper'],
      ['city', 'Zürich'],
      ['plus', '+'],
    ]);
  });
  it('turn repeated keys into arrays and _unset into removals', () => {
    const payload = parseForm('name=x&tag=a&tag=b&_unset=old&_unset=older');
    expect(payload.set).toEqual([['name', 'x'], ['tag', ['a', 'b']]]);
    expect(payload.unset).toEqual(['old', 'older']);
    expect(payload.source).toBe('form');
  });
  it('keep a % that starts no escape, and keys without a value', () => {
    expect(parseForm('discount=50%&flag').set).toEqual([['discount', '50%'], ['flag', '']]);
  });
  it('refuse percent-escapes that are not UTF-8', () => {
    expect(rejection(() => parseForm('name=%FF'))).toEqual({ status: 400, code: 'malformed_body' });
  });
  it('never create nested keys', () => {
    expect(parseForm('a[b]=1&a.c=2').set).toEqual([['a[b]', '1'], ['a.c', '2']]);
  });
  it('keep a U+FEFF that starts a key or a value, as sent: only the body may start with a byte-order mark', () => {
    expect(parseForm('note=%EF%BB%BFhello&%EF%BB%BFnote=b&_unset=%EF%BB%BFx').set).toEqual([
      ['note', '\uFEFFhello'],
      ['\uFEFFnote', 'b'],
    ]);
    expect(parseForm('_unset=%EF%BB%BFx').unset).toEqual(['\uFEFFx']);
    // The body's own byte-order mark is its encoding's signature, not part of the first key.
    expect(parseRecordBody(body('\uFEFFname=x', 'application/x-www-form-urlencoded'), { maxBytes: 100 }).set).toEqual([['name', 'x']]);
    expect(parseRecordBody(body('\uFEFF{"name":"x"}', 'application/json'), { maxBytes: 100 }).set).toEqual([['name', 'x']]);
  });
});

describe('form bodies, against the URL Standard', () => {
  /**
   * The URL Standard's application/x-www-form-urlencoded parsing, step by step and slowly: split on `&`, then on the
   * first `=`; `+` becomes a space; `%` and two hex digits become that byte; the bytes are read as UTF-8 without a BOM
   * (the standard replaces invalid UTF-8, where the API refuses it). Node's URLSearchParams is no reference: it turns
   * `é%2b%zz` into `\uFFFD+%zz`.
   */
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const decode = (component: string) =>
    utf8.decode(Buffer.from(Buffer.from(component.replaceAll('+', ' '), 'utf8').toString('latin1').replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1'));
  function standardPairs(text: string): [string, string][] {
    return text
      .split('&')
      .filter((pair) => pair !== '')
      .map((pair) => (pair.includes('=') ? [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] : [pair, '']))
      .map(([key, value]) => [decode(key!), decode(value!)]);
  }
  // The pieces whose decoding differs: `+`, `%`, escapes of ASCII, of `+`, of a two-byte letter, of a byte-order mark,
  // broken escapes, escapes of invalid UTF-8, a literal U+FEFF.
  const pieces = ['a', 'k', 'é', ' ', '+', '%', '%4', '%41', '%2b', '%2B', '%C3%A9', '%c3%a9', '%EF%BB%BF', '%zz', '%FF', '%C3', '=', '&', '_unset', '\uFEFF'];
  it('reads every key and value as the standard does, or refuses invalid UTF-8 with a 400', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        let pairs: [string, string][] | undefined;
        try {
          pairs = standardPairs(text);
        } catch {
          // An escape that is no UTF-8: the API refuses the body.
          expect(rejection(() => parseForm(text))).toEqual({ status: 400, code: 'malformed_body' });
          return;
        }
        const expected = new Map<string, string[]>();
        const expectedUnset: string[] = [];
        for (const [key, value] of pairs) {
          if (key === '_unset') expectedUnset.push(value);
          else expected.set(key, [...(expected.get(key) ?? []), value]);
        }
        const parsed = parseForm(text);
        expect(new Map(parsed.set.map(([key, value]) => [key, Array.isArray(value) ? (value as string[]) : [value as string]]))).toEqual(expected);
        expect(parsed.unset).toEqual(expectedUnset);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('JSON bodies', () => {
  it('turn null into removals and keep __proto__ as a plain name', () => {
    const payload = parseJson('{"name":"x","gone":null,"__proto__":{"p":1}}');
    expect(payload.set).toEqual([['name', 'x'], ['__proto__', { p: 1 }]]);
    expect(payload.unset).toEqual(['gone']);
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });
  // A number a double would round is marked with an object of its own, which is still no object of fields; nor is
  // text that would be JSON only with such a number in quotes (as an object's key).
  it.each([['[1]'], ['"s"'], ['null'], ['1'], ['{'], ['4503599627370497.5'], ['1e-400'], ['{4503599627370497.5: 1}'], ['{"a": 1e-400} x']])('refuse %s', (text) => {
    expect(rejection(() => parseJson(text))).toEqual({ status: 400, code: 'malformed_body' });
  });
});

describe('parseRecordBody', () => {
  it('accepts JSON and forms, with or without charset=utf-8', () => {
    expect(parseRecordBody(body('{"a":1}', 'application/json; charset=UTF-8'), { maxBytes: 100 }).source).toBe('json');
    expect(parseRecordBody(body('a=1', 'Application/X-WWW-Form-Urlencoded'), { maxBytes: 100 }).source).toBe('form');
    expect(parseRecordBody({ body: '{"a":1}', isBase64Encoded: false, contentType: 'application/json' }, { maxBytes: 100 }).set).toEqual([['a', 1]]);
  });
  it('refuses other media types and charsets with 415', () => {
    expect(rejection(() => parseRecordBody(body('a=1', 'text/plain'), { maxBytes: 100 }))).toEqual({ status: 415, code: 'unsupported_media_type' });
    // SPEC names application/json only: a +json type is another type.
    for (const type of ['application/merge-patch+json', 'application/vnd.api+json']) {
      expect(rejection(() => parseRecordBody(body('{"a":1}', type), { maxBytes: 100 }))).toEqual({ status: 415, code: 'unsupported_media_type' });
      expect(rejection(() => parseJsonObjectBody(body('{"a":1}', type), { maxBytes: 100, what: 'a batch' }))).toEqual({ status: 415, code: 'unsupported_media_type' });
    }
    expect(rejection(() => parseRecordBody(body('a=1', 'application/json; charset=utf-16'), { maxBytes: 100 }))).toEqual({ status: 415, code: 'unsupported_media_type' });
    expect(rejection(() => parseRecordBody(body('a=1'), { maxBytes: 100 }))).toEqual({ status: 415, code: 'unsupported_media_type' });
  });
  it('refuses an empty body without a type with 400, invalid UTF-8 with 400, and a large body with 413', () => {
    expect(rejection(() => parseRecordBody({ body: null, isBase64Encoded: false, contentType: undefined }, { maxBytes: 100 }))).toEqual({ status: 400, code: 'malformed_body' });
    // With a type too (docs/api.md: no body at all is a 400): an empty form is not a form with no fields.
    for (const type of ['application/x-www-form-urlencoded', 'application/json', 'text/plain']) {
      expect([type, rejection(() => parseRecordBody(body('', type), { maxBytes: 100 }))]).toEqual([type, { status: 400, code: 'malformed_body' }]);
      expect([type, rejection(() => parseJsonObjectBody(body('', type), { maxBytes: 100, what: 'a batch' }))]).toEqual([type, { status: 400, code: 'malformed_body' }]);
    }
    expect(rejection(() => parseRecordBody(body(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), 'application/json'), { maxBytes: 100 }))).toEqual({ status: 400, code: 'malformed_body' });
    expect(rejection(() => parseRecordBody(body('x'.repeat(101), 'application/json'), { maxBytes: 100 }))).toEqual({ status: 413, code: 'payload_too_large' });
  });
  it('reads the media type and charset of a Content-Type header', () => {
    expect(parseContentType('application/json; charset="UTF-8"')).toEqual({ mediaType: 'application/json', charset: 'utf-8' });
    expect(parseContentType(undefined)).toBeUndefined();
  });
});
