import { containsApiKey, displayPrefix, generateApiKey, hashApiKey, isWellFormedApiKey, keyFromAuthorizationHeader, redactApiKeysInPath } from '../../lib/auth/api-key.js';

describe('API keys', () => {
  it('look like gth_ + 38 base62 characters and pass their own checksum', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^gth_[0-9A-Za-z]{38}$/);
    expect(isWellFormedApiKey(key)).toBe(true);
  });

  it('are different every time', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
  });

  it('refuse any single-character typo through the checksum', () => {
    const key = generateApiKey();
    for (let i = 4; i < key.length; i += 1) {
      const replacement = key[i] === 'x' ? 'y' : 'x';
      expect(isWellFormedApiKey(key.slice(0, i) + replacement + key.slice(i + 1))).toBe(false);
    }
  });

  it('refuse other shapes', () => {
    for (const bad of ['', 'gth_', 'gth_short', `abc_${'A'.repeat(38)}`, `${generateApiKey()}x`, ` ${generateApiKey()}`]) {
      expect(isWellFormedApiKey(bad)).toBe(false);
    }
  });

  it('are stored as a SHA-256 hex digest and shown by a short prefix', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    // A known digest (from `printf %s <key> | sha256sum`): a change of algorithm or encoding would orphan every stored key.
    expect(hashApiKey('gth_0123456789abcdefghijABCDEFGHIJxyzXYZ01')).toBe('82d2d358ee282cc4f845485cc1542905777475b6c953e5dd3553f5b2520bdbb7');
    expect(hashApiKey(key)).not.toContain(key.slice(4));
    expect(displayPrefix(key)).toBe(key.slice(0, 8));
  });

  it('come from "Token <key>" or "Bearer <key>", in any case', () => {
    expect(keyFromAuthorizationHeader('Token abc')).toBe('abc');
    expect(keyFromAuthorizationHeader('bearer abc')).toBe('abc');
    expect(keyFromAuthorizationHeader('  TOKEN   abc  ')).toBe('abc');
    expect(keyFromAuthorizationHeader('Basic abc')).toBeUndefined();
    expect(keyFromAuthorizationHeader('abc')).toBeUndefined();
    expect(keyFromAuthorizationHeader('Token a b')).toBeUndefined();
    expect(keyFromAuthorizationHeader(undefined)).toBeUndefined();
  });

  it('finds a key, most of one, or a whole one without its prefix, anywhere in a text', () => {
    const key = generateApiKey();
    const body = key.slice('gth_'.length);
    for (const text of [key, `Token ${key}`, `API_KEY=${key}`, `/models/account/records/${key}`, key.slice(0, 20), `'${key}'`, body, `id=${body}`]) {
      expect([text, containsApiKey(text)]).toEqual([text, true]);
    }
    // The prefix token list prints, short fragments, words that merely start like a key, and other runs of 38 letters
    // and digits (no valid checksum) are not keys for the admin CLI.
    const otherRun = body.slice(0, -1) + (body.endsWith('0') ? '1' : '0');
    for (const text of [displayPrefix(key), key.slice(0, 12), 'gth_', 'gth_export', '/srv/gth_backups', 'tok_AbCdEfGh12345678', otherRun, '']) {
      expect([text, containsApiKey(text)]).toEqual([text, false]);
    }
  });

  it.each([
    ['a random key', generateApiKey()],
    // A key whose body starts with what reads as an escape once `%25` before it is decoded (`%17` is a control character).
    ['a key starting with hex digits', (() => {
      for (;;) {
        const candidate = generateApiKey();
        if (/^gth_[0-7][0-9A-Fa-f]/.test(candidate)) return candidate;
      }
    })()],
  ])('leaves no key, nor most of one, in a path for a log line, however a client cut or encoded it (%s)', (_label, key) => {
    const body = key.slice('gth_'.length);
    const base = '/models/account/records';
    const cut = `${base}/…[redacted]`;
    const prefixed = `${base}/${displayPrefix(key)}…[redacted]`;
    const cases: [string, string][] = [
      [`${base}/${key}`, prefixed],
      [`${base}/${key.slice(0, 11)}/${key.slice(11)}`, `${base}/${key.slice(0, 8)}…[redacted]`],
      [`${base}/${key.slice(0, 12)}-${key.slice(12)}`, prefixed],
      [`${base}/${key.slice(0, 12)}%20${key.slice(12)}`, prefixed],
      // Encoded once, four times, in upper case, beside a malformed escape that stops a whole-segment decode.
      [`${base}/gth%5F${body}`, prefixed],
      [`${base}/gth%2525255F${body}`, prefixed],
      [`${base}/GTH_${body}`, `${base}/GTH_${body.slice(0, 4)}…[redacted]`],
      [`${base}/gth%5F${body}%ZZ`, prefixed],
      [`${base}/x%25${body}%`, cut],
      // Without its prefix: whole, or cut in two by a slash, a dash or an escape.
      [`${base}/${body}`, cut],
      [`${base}/${body.slice(0, 20)}/${body.slice(20)}`, cut],
      [`${base}/a-${body.slice(0, 20)}-${body.slice(20)}-b`, cut],
      [`${base}/${body.slice(0, 20)}%2F${body.slice(20)}`, cut],
      // Cut by an escape of a character outside ASCII, which rich text slips into what is pasted (a soft hyphen, a
      // zero-width space), with or without the prefix, which such a character can cut too.
      [`${base}/${body.slice(0, 10)}%C2%AD${body.slice(10)}`, cut],
      [`${base}/g%E2%80%8Bth_${body.slice(0, 10)}%E2%80%8B${body.slice(10)}`, cut],
      [`${base}/${key.slice(0, 14)}%e2%80%8b${key.slice(14)}`, prefixed],
    ];
    for (const [path, logged] of cases) {
      expect([path, redactApiKeysInPath(path)]).toEqual([path, logged]);
      for (let i = 0; i + 12 <= body.length; i += 1) expect(redactApiKeysInPath(path)).not.toContain(body.slice(i, i + 12));
    }
    // Paths without a key are shown as they came, percent-encoding and all.
    const otherRun = body.slice(0, -1) + (body.endsWith('0') ? '1' : '0');
    for (const path of [`${base}/Sterling%20Cooper`, `${base}/x/customers`, `${base}/${otherRun}`, '/health', `${base}/%ZZ`]) {
      expect(redactApiKeysInPath(path)).toBe(path);
    }
  });
});
