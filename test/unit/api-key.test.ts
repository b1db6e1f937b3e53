import { containsApiKey, displayPrefix, generateApiKey, hashApiKey, isWellFormedApiKey, keyFromAuthorizationHeader } from '../../lib/auth/api-key.js';

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
});
