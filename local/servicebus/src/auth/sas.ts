// Shared Access Signature tokens, as Service Bus SDKs send them on `$cbs`:
//   SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64 HMAC>&se=<expiry, s>&skn=<key name>
// The signature is HMAC-SHA256 over "<sr as sent>\n<se>" keyed with the key string.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { normalise } from '../broker/address.js';
import { unauthorized } from '../errors.js';

export interface SasKey {
  name: string;
  key: string;
}

export interface VerifiedToken {
  /** The resource the token grants, decoded, e.g. `sb://localhost:5672/orders`. */
  resource: string;
  keyName: string;
  /** Expiry, ms since epoch. */
  expiresAt: number;
}

export function signSas(key: string, encodedResource: string, expirySeconds: number): string {
  return createHmac('sha256', key).update(`${encodedResource}\n${expirySeconds}`).digest('base64');
}

/** Builds a token the way the SDKs do (for tests and tools). */
export function createSasToken(keyName: string, key: string, resource: string, expirySeconds: number): string {
  const sr = encodeURIComponent(resource);
  const sig = encodeURIComponent(signSas(key, sr, expirySeconds));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expirySeconds}&skn=${encodeURIComponent(keyName)}`;
}

/** Verifies a token against the configured keys; throws an `Unauthorized` EmulatorError. */
export function verifySasToken(token: unknown, keys: readonly SasKey[], now: number): VerifiedToken {
  if (typeof token !== 'string') throw unauthorized('the put-token body must be a SAS token string');
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) throw unauthorized('the token is not a SharedAccessSignature');
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) throw unauthorized('the SAS token needs sr, sig, se and skn');
  const expiry = Number(se);
  if (!Number.isFinite(expiry)) throw unauthorized(`the SAS token expiry '${se}' is not a number`);
  if (expiry * 1000 < now) throw unauthorized(`the SAS token expired at ${new Date(expiry * 1000).toISOString()}`);
  const keyName = safeDecode(skn);
  const key = keys.find((k) => k.name === keyName);
  if (!key) throw unauthorized(`no SAS key is named '${keyName}'`);
  const expected = Buffer.from(signSas(key.key, sr, expiry));
  const given = Buffer.from(safeDecode(sig));
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw unauthorized(`the SAS token signature does not match key '${keyName}' (wrong SharedAccessKey?)`);
  }
  return { resource: safeDecode(sr), keyName, expiresAt: expiry * 1000 };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** True when a token for `resource` covers the entity at `address` (same path or a parent path). */
export function tokenCovers(resource: string, address: string): boolean {
  const granted = normalise(resource);
  const wanted = normalise(address);
  return granted === '' || wanted === granted || wanted.startsWith(`${granted}/`);
}

