import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSasToken, tokenCovers, verifySasToken } from '../../src/auth/sas.js';
import { EmulatorError } from '../../src/errors.js';

const keys = [{ name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' }];
const now = Date.UTC(2030, 0, 1);
const inAnHour = Math.floor(now / 1000) + 3600;

/** The token exactly as @azure/core-amqp builds it. */
function sdkToken(keyName: string, key: string, audience: string, expiry: number): string {
  const sr = encodeURIComponent(audience);
  const sig = encodeURIComponent(createHmac('sha256', key).update(`${sr}\n${expiry}`).digest('base64'));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expiry}&skn=${encodeURIComponent(keyName)}`;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof EmulatorError ? `${e.code}: ${e.message}` : String(e);
  }
}

describe('SAS token verification', () => {
  it('accepts a token signed with a configured key', () => {
    const token = sdkToken('RootManageSharedAccessKey', 'SAS_KEY_VALUE', 'sb://localhost:5672/orders', inAnHour);
    expect(verifySasToken(token, keys, now)).toEqual({
      resource: 'sb://localhost:5672/orders',
      keyName: 'RootManageSharedAccessKey',
      expiresAt: inAnHour * 1000,
    });
    expect(createSasToken('RootManageSharedAccessKey', 'SAS_KEY_VALUE', 'sb://localhost:5672/orders', inAnHour)).toBe(token);
  });

  it('refuses a wrong key, an unknown key name, an expired token and garbage', () => {
    const wrong = sdkToken('RootManageSharedAccessKey', 'other', 'sb://localhost/orders', inAnHour);
    expect(code(() => verifySasToken(wrong, keys, now))).toMatch(/^Unauthorized: .*signature does not match key 'RootManageSharedAccessKey'/);
    expect(code(() => verifySasToken(sdkToken('nobody', 'SAS_KEY_VALUE', 'sb://x/q', inAnHour), keys, now))).toMatch(/no SAS key is named 'nobody'/);
    expect(code(() => verifySasToken(sdkToken('RootManageSharedAccessKey', 'SAS_KEY_VALUE', 'sb://x/q', inAnHour), keys, (inAnHour + 1) * 1000))).toMatch(/expired/);
    expect(code(() => verifySasToken('Bearer abc', keys, now))).toMatch(/not a SharedAccessSignature/);
    expect(code(() => verifySasToken('SharedAccessSignature sr=a', keys, now))).toMatch(/needs sr, sig, se and skn/);
    expect(code(() => verifySasToken(42, keys, now))).toMatch(/^Unauthorized/);
  });

  it('a token covers its entity, its sub-paths, and the namespace covers everything', () => {
    expect(tokenCovers('sb://localhost:5672/orders', 'orders')).toBe(true);
    expect(tokenCovers('sb://localhost:5672/Orders', 'orders/$management')).toBe(true);
    expect(tokenCovers('sb://localhost:5672/orders', 'orders-eu')).toBe(false);
    expect(tokenCovers('sb://localhost:5672/', 'anything/Subscriptions/s')).toBe(true);
    expect(tokenCovers('sb://localhost:5672/t', 't/Subscriptions/s/$DeadLetterQueue')).toBe(true);
  });
});
