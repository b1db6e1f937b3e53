import vm from 'node:vm';
import { coerceFieldValue } from '../../lib/models/field-types.js';
import { normalizeId } from '../../lib/records/record-id.js';

describe('coerceFieldValue', () => {
  it('coerces form strings to declared types', () => {
    expect(coerceFieldValue('50', 'number', 'form')).toEqual({ ok: true, value: 50 });
    expect(coerceFieldValue(' -1.5e3 ', 'number', 'form')).toEqual({ ok: true, value: -1500 });
    expect(coerceFieldValue('true', 'boolean', 'form')).toEqual({ ok: true, value: true });
    expect(coerceFieldValue('false', 'boolean', 'form')).toEqual({ ok: true, value: false });
    expect(coerceFieldValue('{"a":[1]}', 'json', 'form')).toEqual({ ok: true, value: { a: [1] } });
    expect(coerceFieldValue('2026-12-04T16:00:00+01:00', 'datetime', 'form')).toEqual({ ok: true, value: '2026-12-04T15:00:00.000Z' });
    expect(coerceFieldValue('2026-12-04', 'datetime', 'form')).toEqual({ ok: true, value: '2026-12-04T00:00:00.000Z' });
    expect(coerceFieldValue('2026-12-04T15:00', 'datetime', 'form')).toEqual({ ok: true, value: '2026-12-04T15:00:00.000Z' });
  });

  it("reads a date-time's fraction after a comma as after a point, as ISO 8601 allows, and refuses its other date forms", () => {
    for (const [value, stored] of [
      ['2026-03-01T10:00:00,5Z', '2026-03-01T10:00:00.500Z'],
      ['2026-03-01T10:00:00,123456+01:00', '2026-03-01T09:00:00.123Z'],
      ['2026-12-31T24:00:00,000Z', '2027-01-01T00:00:00.000Z'],
    ] as const) {
      expect([value, coerceFieldValue(value, 'datetime', 'form')]).toEqual([value, { ok: true, value: stored }]);
      expect([value, coerceFieldValue(value.replace(',', '.'), 'datetime', 'json')]).toEqual([value, { ok: true, value: stored }]);
    }
    // Ordinal and week dates, and a fraction with both marks or none of its digits, are not the extended calendar form.
    for (const value of ['2026-060T10:00:00Z', '2026-W09-1T10:00:00Z', '2026-03-01T10:00:00,Z', '2026-03-01T10:00:00.,5Z', '2026-03-01T10:00:00,5.5Z']) {
      expect([value, coerceFieldValue(value, 'datetime', 'form').ok]).toEqual([value, false]);
    }
  });

  it('refuses a form number whose fraction a double would round away, and takes whole numbers however written', () => {
    // A fraction past a double's precision, or one too small for a double at all (it would be stored as 0).
    for (const value of ['4503599627370497.5', '9007199254740990.5', '45035996273704975e-1']) {
      expect([value, coerceFieldValue(value, 'number', 'form')]).toEqual([value, { ok: false, issue: 'is not a whole number but would be stored as one (a number holds about 16 significant digits); send it as a string' }]);
    }
    // Too small for a double at all, it is 0: refused as any number under DynamoDB's smallest is, in words that say so.
    for (const value of ['1e-400', '-2.5e-999']) {
      expect([value, coerceFieldValue(value, 'number', 'form')]).toEqual([value, { ok: false, issue: 'numbers must be 0 or at least 1e-130 in magnitude' }]);
    }
    for (const [value, expected] of [['12.5e1', 125], ['1250e-1', 125], ['7.000', 7], ['-0.0', -0], ['0.1', 0.1], ['2.5', 2.5], ['1e3', 1000], ['.5', 0.5], ['5.', 5]] as const) {
      expect([value, coerceFieldValue(value, 'number', 'form')]).toEqual([value, { ok: true, value: expected }]);
    }
  });

  it('refuses a long run of digits with a bad character at its end at once, as any other bad number', () => {
    // The number pattern once let a run of digits split between two of its parts in every way: 100,000 digits and an
    // `x` held the event loop for 10 s (an upsert could stall a function into its timeout). The call runs under a
    // watchdog that stops it after 10 s, so the test ends either way; 400,000 digits took that pattern minutes.
    for (const value of [`${'1'.repeat(400_000)}x`, `${'1'.repeat(400_000)}.5x`]) {
      const outcome = vm.runInNewContext('coerce(value)', { coerce: (text: string) => coerceFieldValue(text, 'number', 'form'), value }, { timeout: 10_000 });
      expect(outcome).toEqual({ ok: false, issue: expect.stringMatching(/number/) });
    }
  });

  it('trims a form boolean as it trims numbers, e-mail addresses and date-times', () => {
    expect(coerceFieldValue(' true', 'boolean', 'form')).toEqual({ ok: true, value: true });
    expect(coerceFieldValue('false \t', 'boolean', 'form')).toEqual({ ok: true, value: false });
    expect(coerceFieldValue('True', 'boolean', 'form').ok).toBe(false);
  });

  it('parses each value of a repeated form key of a json field, as it parses one', () => {
    expect(coerceFieldValue(['1', '"two"', '{"a":null}'], 'json', 'form')).toEqual({ ok: true, value: [1, 'two', { a: null }] });
    expect(coerceFieldValue(['1', '{'], 'json', 'form')).toEqual({ ok: false, issue: 'must be a JSON document' });
    expect(coerceFieldValue('null', 'json', 'form')).toEqual({ ok: true, value: null });
  });

  it('refuses control characters in an e-mail field, as in an e-mail id', () => {
    for (const value of ['a\u0007b@c.de', 'a@b\u0000.de', 'a@b.d\u0085e']) {
      expect([JSON.stringify(value), coerceFieldValue(value, 'email', 'json').ok]).toEqual([JSON.stringify(value), false]);
    }
    expect(coerceFieldValue(' Ann@Example.com ', 'email', 'form')).toEqual({ ok: true, value: 'Ann@Example.com' });
  });

  it('takes an e-mail address as mail systems do, and refuses what only looks like one', () => {
    const refused = [
      'mailto:don@x.com', 'a..b@c.com', '.a@b.com', 'a.@b.com', 'a(b)@c.com', 'a,b@c.com', 'a;b@c.com', 'a<b@c.com', 'a@b_c.com',
      'a@-b.com', 'a@b-.com', 'a@b..com', 'a@b.c-', 'a@[192.0.2.1]', 'a@b', '"a b"@x.io', 'a@@b.io', 'a@b.io.', `a@${'x'.repeat(64)}.io`,
      // Outside ASCII only letters, marks and digits: no zero-width or text-direction character, no symbol.
      'don@sterlingcooper\u200b.com', 'd\u202eon@x.com', '\u{1F600}@x.com', 'a\u00a0b@x.com',
    ];
    for (const value of refused) expect([value, coerceFieldValue(value, 'email', 'json').ok]).toEqual([value, false]);
    const taken = ['don@sc.com', 'ann+tag@crm.io', "o'brien@x.ie", 'a_b@c-d.e-f.io', '{x}|~^@x.io', 'élodie@exämple.com', 'user@例え.jp', `a@${'x'.repeat(63)}.io`];
    for (const value of taken) expect([value, coerceFieldValue(value, 'email', 'json').ok]).toEqual([value, true]);
    // The same check for an e-mail id, after it is trimmed, lower-cased and NFC-normalized.
    expect(normalizeId(' Mailto:Don@X.com', 'email')).toEqual({ ok: false, issue: 'must be an e-mail address' });
  });

  it('refuses what cannot be coerced', () => {
    for (const [value, type] of [['5O', 'number'], ['', 'number'], ['yes', 'boolean'], ['{', 'json'], ['2026-02-30', 'datetime'], ['tomorrow', 'datetime'], ['x@', 'email']] as const) {
      expect(coerceFieldValue(value, type, 'form').ok).toBe(false);
    }
    expect(coerceFieldValue(['a', 'b'], 'string', 'form').ok).toBe(false);
  });

  it('refuses an impossible calendar day with a time too, which Date would roll over into the next month', () => {
    for (const value of ['2026-02-30T10:00:00Z', '2026-02-29T10:00:00Z', '2026-04-31T00:00', '2026-12-32 08:00', '1900-02-29T00:00:00+01:00']) {
      expect([value, coerceFieldValue(value, 'datetime', 'json')]).toEqual([value, { ok: false, issue: 'is not a valid calendar date' }]);
    }
    for (const value of ['2026-13-01', '2026-00-10T00:00Z', '2026-12-00']) expect(coerceFieldValue(value, 'datetime', 'form').ok).toBe(false);
    // Leap days, month ends, and an offset that moves the UTC date are all real dates.
    expect(coerceFieldValue('2028-02-29T10:00:00Z', 'datetime', 'json')).toEqual({ ok: true, value: '2028-02-29T10:00:00.000Z' });
    expect(coerceFieldValue('2000-02-29', 'datetime', 'json')).toEqual({ ok: true, value: '2000-02-29T00:00:00.000Z' });
    expect(coerceFieldValue('2026-04-30T23:30:00-02:00', 'datetime', 'json')).toEqual({ ok: true, value: '2026-05-01T01:30:00.000Z' });
    expect(coerceFieldValue('2026-12-31T23:59:59.999Z', 'datetime', 'json')).toEqual({ ok: true, value: '2026-12-31T23:59:59.999Z' });
    // Fractions finer than milliseconds, however fine, are cut; an offset may leave out its colon.
    expect(coerceFieldValue('2026-12-31T23:59:59.999999999999Z', 'datetime', 'json')).toEqual({ ok: true, value: '2026-12-31T23:59:59.999Z' });
    expect(coerceFieldValue('2026-12-04T16:00:00.1234567891+0100', 'datetime', 'form')).toEqual({ ok: true, value: '2026-12-04T15:00:00.123Z' });
    // Leading zeros of a long fraction count: .0500000000 is 50 ms, not 500.
    for (const [fraction, ms] of [['0500000000', '050'], ['0999999999', '099'], ['0010000000000', '001'], ['000123456', '000'], ['5', '500'], ['05', '050']]) {
      expect([fraction, coerceFieldValue(`2026-12-04T16:00:00.${fraction}Z`, 'datetime', 'json')]).toEqual([fraction, { ok: true, value: `2026-12-04T16:00:00.${ms}Z` }]);
    }
    // A leap second is no time a clock stores: refused, not moved to the next second.
    expect(coerceFieldValue('2016-12-31T23:59:60Z', 'datetime', 'json').ok).toBe(false);
    // ISO 8601's end of a day is the next day's start; any later time in hour 24 is none.
    for (const value of ['2026-12-31T24:00Z', '2026-12-31T24:00:00Z', '2026-12-31T24:00:00.000Z', '2026-12-31T24:00:00.0000+00:00']) {
      expect([value, coerceFieldValue(value, 'datetime', 'form')]).toEqual([value, { ok: true, value: '2027-01-01T00:00:00.000Z' }]);
    }
    for (const value of ['2026-12-31T24:00:01Z', '2026-12-31T24:00:00.5Z', '2026-12-31T24:01Z', '2026-12-31T25:00Z']) {
      expect([value, coerceFieldValue(value, 'datetime', 'form').ok]).toEqual([value, false]);
    }
  });

  it('keeps every stored date-time readable back: a value whose offset leaves the years 0000 to 9999 in UTC is refused', () => {
    for (const value of ['0000-01-01T00:00:00+01:00', '9999-12-31T23:00:00-02:00']) {
      expect([value, coerceFieldValue(value, 'datetime', 'json')]).toEqual([value, { ok: false, issue: 'is outside the years 0000 to 9999 in UTC' }]);
    }
    for (const value of ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00-01:00']) {
      const coerced = coerceFieldValue(value, 'datetime', 'json');
      expect(coerced.ok).toBe(true);
      // What is stored is accepted again as it is.
      expect(coerceFieldValue((coerced as { value: string }).value, 'datetime', 'json')).toEqual(coerced);
    }
  });

  it('expects JSON values to have the type already', () => {
    expect(coerceFieldValue('50', 'number', 'json').ok).toBe(false);
    expect(coerceFieldValue(50, 'number', 'json')).toEqual({ ok: true, value: 50 });
    expect(coerceFieldValue('true', 'boolean', 'json').ok).toBe(false);
    expect(coerceFieldValue({ a: 1 }, 'json', 'json')).toEqual({ ok: true, value: { a: 1 } });
  });
});

describe('normalizeId', () => {
  it('lower-cases and trims emails, NFC-normalizes and trims every id', () => {
    expect(normalizeId('  Don@SC.COM ', 'email')).toEqual({ ok: true, id: 'don@sc.com' });
    // One address, one customer, however its accents were typed.
    expect(normalizeId(' E\u0301lodie@Exa\u0308mple.com', 'email')).toEqual({ ok: true, id: '\u00e9lodie@ex\u00e4mple.com' });
    expect(normalizeId(' Cafe\u0301 ', 'string')).toEqual({ ok: true, id: 'Café' });
    expect(normalizeId('Case Kept', 'string')).toEqual({ ok: true, id: 'Case Kept' });
    expect(normalizeId(12, 'string')).toEqual({ ok: true, id: '12' });
  });
  it('refuses a value far over the limit before normalizing it, at once, and still takes every value that normalizes within it', () => {
    // NFC orders each run of combining marks in time that grows with the square of the run: 200,000 marks held the
    // process for about 10 s. The calls run under a watchdog that fails them past 2 s (a refusal takes a millisecond).
    const marks = `a${'\u0316\u0301'.repeat(100_000)}`;
    for (const type of ['string', 'email'] as const) {
      const outcome = vm.runInNewContext('normalize(value, type)', { normalize: normalizeId, value: marks, type }, { timeout: 2_000 });
      expect([type, outcome]).toEqual([type, { ok: false, issue: 'must be at most 1024 bytes of UTF-8' }]);
    }
    // Normalizing shrinks a text to 2/7 of its bytes at most (U+1FBE U+0308 U+0301, seven bytes, is U+0390, two): a
    // 1,024-byte id sent so, 3,584 bytes, is still that id, as it is sent decomposed (3,072 bytes).
    const composed = '\u0390'.repeat(512);
    expect(Buffer.byteLength(composed.normalize('NFD'))).toBe(3 * 1024);
    expect(normalizeId(composed.normalize('NFD'), 'string')).toEqual({ ok: true, id: composed });
    const longest = '\u1FBE\u0308\u0301'.repeat(512);
    expect(Buffer.byteLength(longest)).toBe(3.5 * 1024);
    expect(normalizeId(longest, 'string')).toEqual({ ok: true, id: composed });
    expect(normalizeId(`${composed}x`.normalize('NFD'), 'string')).toEqual({ ok: false, issue: 'must be at most 1024 bytes of UTF-8' });
  });

  it('refuses a run of more than 30 combining marks, as sent (before normalizing it) or once normalized, and takes 30', () => {
    // Ordering a run of marks takes time that grows with the square of the run: 2,044 of them (a 4 KB id) took 4.5 ms,
    // and a batch normalizes 2,000 ids before it writes.
    const refused = { ok: false, issue: 'must not have more than 30 combining marks in a row' };
    expect(normalizeId(`a${'\u0344'.repeat(1022)}${'\u0334'.repeat(1022)}`, 'string')).toEqual(refused);
    expect(normalizeId(`x@example.com${'\u0301'.repeat(31)}`, 'email')).toEqual(refused);
    expect(normalizeId('\u0301'.repeat(31), 'string')).toEqual(refused);
    // Runs of 30 are ordinary text to it, however many of them there are.
    expect(normalizeId(`a${'\u0316'.repeat(30)}`, 'string')).toEqual({ ok: true, id: `a${'\u0316'.repeat(30)}` });
    const thirties = `b${'\u0316'.repeat(30)}`.repeat(10);
    expect(normalizeId(thirties, 'string')).toEqual({ ok: true, id: thirties });
    // U+0344 becomes two marks under NFC: 20 of them pass as sent and are 40 in a row once normalized, which is refused,
    // so that no id is stored that a lookup by it would refuse.
    expect(normalizeId(`a${'\u0344'.repeat(20)}`, 'string')).toEqual(refused);
    const fifteen = `a${'\u0344'.repeat(15)}`;
    expect(normalizeId(fifteen, 'string')).toEqual({ ok: true, id: fifteen.normalize('NFC') });
    // A combining grapheme joiner between two runs of 30 keeps each within the limit, as UAX #15's own algorithm does.
    const joined = `a${'\u0301'.repeat(30)}\u034F${'\u0301'.repeat(30)}`;
    expect(normalizeId(joined, 'string')).toEqual({ ok: true, id: joined.normalize('NFC') });
    // U+0300 is the first mark of all: an id of Latin-1 and it is tested for runs, not passed as Latin-1 alone.
    expect(normalizeId(`\u00e0${'\u0300'.repeat(31)}`, 'string')).toEqual(refused);
    // Precomposed letters are no marks: a long word of them is an ordinary id.
    expect(normalizeId('\u00e9'.repeat(500), 'string').ok).toBe(true);
  });

  it('refuses empty, oversized, control-character and malformed ids', () => {
    expect(normalizeId(' ', 'string').ok).toBe(false);
    expect(normalizeId('é'.repeat(513), 'string').ok).toBe(false);
    expect(normalizeId('é'.repeat(512), 'string').ok).toBe(true);
    expect(normalizeId('a\u0000b', 'string').ok).toBe(false);
    expect(normalizeId('\ud800', 'string').ok).toBe(false);
    expect(normalizeId('not-an-email', 'email').ok).toBe(false);
    expect(normalizeId(1.5, 'string').ok).toBe(false);
  });
});
