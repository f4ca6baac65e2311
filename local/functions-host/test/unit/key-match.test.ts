import { describe, expect, it } from 'vitest';
import { keyMatches } from '../../src/key-match.js';

describe('keyMatches', () => {
  const key = 'k3y-0f-the-h0st_abcdefghijklmnopqrstuvwx==';

  it('accepts a key that is one of those accepted', () => {
    expect(keyMatches(key, [key])).toBe(true);
    expect(keyMatches(key, ['other', key])).toBe(true);
    expect(keyMatches('ключ', ['ключ'])).toBe(true);
  });

  it('refuses a wrong key of the same length', () => {
    expect(keyMatches(`${key.slice(0, -1)}x`, [key])).toBe(false);
    expect(keyMatches(key.toUpperCase(), [key])).toBe(false);
  });

  it('refuses keys of other lengths (prefixes, extensions, empty) without throwing', () => {
    expect(keyMatches(key.slice(0, -1), [key])).toBe(false);
    expect(keyMatches(`${key}x`, [key])).toBe(false);
    expect(keyMatches('', [key])).toBe(false);
    expect(keyMatches(key.repeat(100), [key])).toBe(false);
    expect(keyMatches(key, [])).toBe(false);
  });
});
