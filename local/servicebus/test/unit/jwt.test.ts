// JWT validation without sockets: what a forged, altered or mistimed token gets.
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { importKeys, TokenError, verifyJwt, type JwtTrust } from '../../src/auth/jwt.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1' };
const ISSUER = 'https://sts.windows.net/tenant/';
const AUD = 'https://servicebus.azure.net/';
const trust: JwtTrust = { issuer: ISSUER, keys: importKeys([jwk], 'keys'), clockSkewMs: 300_000 };
const now = Date.UTC(2026, 0, 1);
const seconds = Math.floor(now / 1000);

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
function token(claims: Record<string, unknown> = {}, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT', kid: 'k1' }): string {
  const body = { iss: ISSUER, aud: AUD, oid: 'o1', iat: seconds, nbf: seconds, exp: seconds + 3600, ...claims };
  const signed = `${b64(header)}.${b64(body)}`;
  return `${signed}.${sign('RSA-SHA256', Buffer.from(signed), privateKey).toString('base64url')}`;
}
const refusal = (t: unknown, at = now): string => {
  try {
    verifyJwt(t, trust, [AUD], at);
  } catch (e) {
    if (e instanceof TokenError) return e.code;
    throw e;
  }
  return 'accepted';
};

describe('verifyJwt', () => {
  it('accepts a token signed by a trusted key, for the audience, in its lifetime', () => {
    expect(verifyJwt(token(), trust, [AUD], now)).toEqual({ objectId: 'o1', audience: AUD, expiresAt: (seconds + 3600) * 1000 });
  });

  it("refuses 'alg: none', HMAC with the public key as secret, an altered payload and an unknown kid", () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT', kid: 'k1' })}.${b64({ iss: ISSUER, aud: AUD, oid: 'o1', exp: seconds + 3600 })}.`;
    expect(refusal(unsigned)).toBe('InvalidSignature');
    const hsHeader = b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
    const hsBody = b64({ iss: ISSUER, aud: AUD, oid: 'o1', exp: seconds + 3600 });
    const hmac = createHmac('sha256', publicKey.export({ format: 'pem', type: 'spki' })).update(`${hsHeader}.${hsBody}`).digest('base64url');
    expect(refusal(`${hsHeader}.${hsBody}.${hmac}`)).toBe('InvalidSignature');
    const [h, , s] = token().split('.');
    expect(refusal(`${h}.${b64({ iss: ISSUER, aud: AUD, oid: 'someone-else', exp: seconds + 3600 })}.${s}`)).toBe('InvalidSignature');
    expect(refusal(token({}, { alg: 'RS256', kid: 'k2' }))).toBe('InvalidSignature');
    expect(refusal('not.a-jwt')).toBe('MalformedToken');
    expect(refusal(42)).toBe('MalformedToken');
  });

  it('refuses another issuer, another audience, and a token without oid', () => {
    expect(refusal(token({ iss: 'https://sts.windows.net/other/' }))).toBe('InvalidIssuer');
    expect(refusal(token({ aud: 'https://storage.azure.com/' }))).toBe('InvalidAudience');
    expect(refusal(token({ aud: ['https://servicebus.azure.net/'] }))).toBe('InvalidAudience');
    expect(refusal(token({ oid: undefined }))).toBe('MalformedToken');
  });

  it('allows the clock skew on both ends of the lifetime, and no more', () => {
    const t = token();
    expect(refusal(t, (seconds + 3600) * 1000 + 299_000)).toBe('accepted');
    expect(refusal(t, (seconds + 3600) * 1000 + 300_000)).toBe('ExpiredToken');
    expect(refusal(token({ nbf: seconds + 299 }))).toBe('accepted');
    expect(refusal(token({ nbf: seconds + 301 }))).toBe('TokenNotYetValid');
    expect(refusal(token({ exp: undefined }))).toBe('MalformedToken');
  });
});
