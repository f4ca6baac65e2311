// RS256 JSON Web Tokens, signed with a key pair made at start-up or kept from an earlier run.
// Entra signs access tokens the same way (RS256, the key named by `kid` in the header, published
// as a JWKS), so a validator written for Entra's keys validates these with no special case.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public half as a JWK, with `kid`, `alg` and `use` as in Entra's JWKS. */
  readonly jwk: JsonWebKey & { kid: string; alg: 'RS256'; use: 'sig' };
}

/** A new key, or the one whose private half `pem` holds (PKCS#8 or PKCS#1 PEM, RSA). */
export function createSigningKey(pem?: string): SigningKey {
  let privateKey: KeyObject;
  if (pem === undefined) privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  else {
    try {
      privateKey = createPrivateKey(pem);
    } catch (e) {
      throw new TypeError(`signingKey: not a PEM private key (${(e as Error).message})`);
    }
    if (privateKey.asymmetricKeyType !== 'rsa') throw new TypeError(`signingKey: expected an RSA key (tokens are RS256), got ${String(privateKey.asymmetricKeyType)}`);
  }
  const exported = createPublicKey(privateKey).export({ format: 'jwk' });
  // A thumbprint of the public key, as Entra's `kid`s are: stable for the key, unique across keys.
  const kid = createHash('sha256').update(`${exported.n}.${exported.e}`).digest('base64url').slice(0, 27);
  return { kid, privateKey, jwk: { ...exported, kid, alg: 'RS256', use: 'sig' } };
}

export function signJwt(key: SigningKey, claims: Record<string, unknown>): string {
  const header = { typ: 'JWT', alg: 'RS256', kid: key.kid };
  const signed = `${base64url(header)}.${base64url(claims)}`;
  const signature = sign('RSA-SHA256', Buffer.from(signed), key.privateKey).toString('base64url');
  return `${signed}.${signature}`;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
