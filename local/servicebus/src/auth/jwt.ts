// Validation of Entra access tokens (JWT, RS256), as Service Bus and ARM validate them: the
// signature against the trusted keys (the header's `kid` picks one), the issuer, the audience,
// and the lifetime (`nbf`, `exp`) with a clock skew allowance (Azure's: 5 minutes). Each
// failure is a `TokenError` whose `code` is the one Service Bus names in its CBS answer; the
// surfaces (the `$cbs` node, the ARM endpoint) word it their way.
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export type TokenErrorCode = 'MalformedToken' | 'InvalidSignature' | 'InvalidIssuer' | 'InvalidAudience' | 'ExpiredToken' | 'TokenNotYetValid';

export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly code: TokenErrorCode,
    message: string,
    /** What the surfaces name in their own wording (ARM's messages quote them). */
    readonly detail: { audience?: string; expiresAt?: number } = {},
  ) {
    super(message);
  }
}

export interface JwtTrust {
  /** The exact `iss` accepted, e.g. `https://sts.windows.net/<tenant>/`. */
  readonly issuer: string;
  /** Trusted public keys by `kid`. */
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly clockSkewMs: number;
}

export interface VerifiedJwt {
  /** The principal's object id (`oid`). */
  objectId: string;
  audience: string;
  /** `exp` in ms since the epoch (without the skew allowance). */
  expiresAt: number;
}

/** Imports a JWKS's keys (RSA, with `kid`); errors name `path`. */
export function importKeys(keys: unknown, path: string): Map<string, KeyObject> {
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${path}: expected a non-empty array of public JWKs (the issuer's jwks.keys).`);
  const imported = new Map<string, KeyObject>();
  keys.forEach((jwk: unknown, i) => {
    const at = `${path}[${i}]`;
    const kid = (jwk as { kid?: unknown } | null)?.kid;
    if (typeof kid !== 'string' || kid === '') throw new Error(`${at}.kid: expected the key's id (tokens name their key by kid).`);
    if ((jwk as { kty?: unknown }).kty !== 'RSA') throw new Error(`${at}.kty: expected 'RSA' (tokens are RS256).`);
    if ((jwk as { d?: unknown }).d !== undefined) throw new Error(`${at}: this is a private key; give the public key only.`);
    try {
      imported.set(kid, createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
    } catch (e) {
      throw new Error(`${at}: not a usable RSA public key (${(e as Error).message}).`);
    }
  });
  return imported;
}

/** Verifies `token` for one of `audiences`; throws a `TokenError`. */
export function verifyJwt(token: unknown, trust: JwtTrust, audiences: readonly string[], now: number): VerifiedJwt {
  if (typeof token !== 'string') throw new TokenError('MalformedToken', 'The token must be a string.');
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('MalformedToken', 'The token is not a JWT (three base64url parts).');
  const [h, c, s] = parts as [string, string, string];
  const header = decodePart(h, 'header');
  const claims = decodePart(c, 'payload');
  if (header.alg !== 'RS256') throw new TokenError('InvalidSignature', `The token's algorithm '${String(header.alg)}' is not RS256.`);
  const key = typeof header.kid === 'string' ? trust.keys.get(header.kid) : undefined;
  if (!key || !verify('RSA-SHA256', Buffer.from(`${h}.${c}`), key, Buffer.from(s, 'base64url'))) {
    throw new TokenError('InvalidSignature', 'The token has an invalid signature.');
  }
  if (claims.iss !== trust.issuer) throw new TokenError('InvalidIssuer', 'Token issuer is invalid.');
  const audience = typeof claims.aud === 'string' ? claims.aud : undefined;
  if (!audience || !audiences.some((a) => a.toLowerCase() === audience.toLowerCase())) {
    throw new TokenError('InvalidAudience', 'Invalid authorization token audience.', audience ? { audience } : {});
  }
  const exp = claims.exp;
  const nbf = claims.nbf;
  if (typeof exp !== 'number') throw new TokenError('MalformedToken', "The token has no 'exp' claim.");
  if (exp * 1000 + trust.clockSkewMs <= now) {
    throw new TokenError('ExpiredToken', `The token is expired. Expiration time: '${azureTime(exp)}'`, { expiresAt: exp * 1000 });
  }
  if (typeof nbf === 'number' && nbf * 1000 - trust.clockSkewMs > now) {
    throw new TokenError('TokenNotYetValid', `The token is not valid yet. Valid from: '${azureTime(nbf)}'`);
  }
  if (typeof claims.oid !== 'string' || claims.oid === '') throw new TokenError('MalformedToken', "The token has no 'oid' claim.");
  return { objectId: claims.oid, audience, expiresAt: exp * 1000 };
}

function decodePart(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new TokenError('MalformedToken', `The token's ${what} is not a base64url JSON object.`);
}

/** `2019-04-11 21:12:56Z`, as Service Bus writes times in token errors. */
function azureTime(seconds: number): string {
  return `${new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
