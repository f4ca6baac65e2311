// The token issuer through @azure/identity's real credentials: ManagedIdentityCredential and
// DefaultAzureCredential find it through the App Service environment alone, and what they get
// is an RS256 JWT that the published key verifies. Each credential runs in its own process
// (see process-credential.ts), with the principal's environment.
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPrincipal, startProcessCredential, startTokenIssuer, type ProcessCredential, type TokenIssuer } from '../src/index.js';

const SERVICE_BUS_SCOPE = 'https://servicebus.azure.net//.default';

let issuer: TokenIssuer;
const credentials: ProcessCredential[] = [];

beforeAll(async () => {
  issuer = await startTokenIssuer({ principals: [newPrincipal('agent'), newPrincipal('app')] });
});
afterAll(async () => {
  await Promise.all(credentials.map((c) => c.close()));
  await issuer?.close();
});

async function credential(env: Parameters<typeof startProcessCredential>[0], kind?: 'managed' | 'default'): Promise<ProcessCredential> {
  const c = await startProcessCredential(env, kind ? { kind } : {});
  credentials.push(c);
  return c;
}

function decode(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: string; signature: Buffer } {
  const [h, c, s] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(c!, 'base64url').toString()) as Record<string, unknown>,
    signed: `${h}.${c}`,
    signature: Buffer.from(s!, 'base64url'),
  };
}

function verifiesWith(jwt: string, keys: { keys: JsonWebKey[] }): boolean {
  const { header, signed, signature } = decode(jwt);
  const jwk = keys.keys.find((k) => (k as { kid?: string }).kid === header.kid);
  if (!jwk) return false;
  return verify('RSA-SHA256', Buffer.from(signed), createPublicKey({ key: jwk as never, format: 'jwk' }), signature);
}

describe('token issuer through ManagedIdentityCredential', () => {
  it("hands the principal a token for Service Bus, signed by the published key, with Entra's claims", async () => {
    const agent = issuer.principals.find((p) => p.name === 'agent')!;
    const before = Math.floor(Date.now() / 1000);
    const token = await (await credential(issuer.environmentFor('agent'))).getToken(SERVICE_BUS_SCOPE);
    const { header, claims } = decode(token!.token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: (issuer.jwks.keys[0] as { kid: string }).kid });
    expect(claims).toMatchObject({
      iss: `https://sts.windows.net/${issuer.tenantId}/`,
      aud: 'https://servicebus.azure.net/',
      oid: agent.objectId,
      sub: agent.objectId,
      appid: agent.clientId,
      tid: issuer.tenantId,
    });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp).toBe((claims.iat as number) + 3600);
    expect(token!.expiresOnTimestamp).toBe((claims.exp as number) * 1000);
    expect(verifiesWith(token!.token, issuer.jwks)).toBe(true);
  });

  it('serves DefaultAzureCredential through the same environment (AZURE_CLIENT_ID picks the identity)', async () => {
    const app = issuer.principals.find((p) => p.name === 'app')!;
    const token = await (await credential(issuer.environmentFor('app'), 'default')).getToken('https://management.azure.com/.default');
    expect(decode(token!.token).claims).toMatchObject({ aud: 'https://management.azure.com', oid: app.objectId });
  });

  it("refuses a secret that is not any principal's (401)", async () => {
    const env = { ...issuer.environmentFor('agent'), IDENTITY_HEADER: 'guessed' };
    await expect((await credential(env)).getToken(SERVICE_BUS_SCOPE)).rejects.toThrow(/X-IDENTITY-HEADER header does not belong to any identity/);
  });

  it("refuses a client id that is not the secret's principal (400): one app cannot ask for another's identity", async () => {
    const env = { ...issuer.environmentFor('agent'), AZURE_CLIENT_ID: issuer.environmentFor('app').AZURE_CLIENT_ID };
    await expect((await credential(env)).getToken(SERVICE_BUS_SCOPE)).rejects.toThrow(/is not the identity of this IDENTITY_HEADER/);
  });

  it('a second issuer signs with another key: its tokens do not verify with the first one', async () => {
    const other = await startTokenIssuer({ principals: [...issuer.principals] });
    try {
      const forged = other.mint('agent', 'https://servicebus.azure.net/');
      expect(verifiesWith(forged, issuer.jwks)).toBe(false);
      expect(verifiesWith(issuer.mint('agent', 'https://servicebus.azure.net/'), issuer.jwks)).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('token endpoint (App Service protocol)', () => {
  const get = async (query: string, header?: string) => {
    const response = await fetch(`${issuer.endpoint}?${query}`, { headers: header ? { 'X-IDENTITY-HEADER': header } : {} });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('answers { access_token, expires_on, resource, token_type, client_id }', async () => {
    const env = issuer.environmentFor('agent');
    const { status, body } = await get('api-version=2019-08-01&resource=https://servicebus.azure.net/', env.IDENTITY_HEADER);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['access_token', 'client_id', 'expires_on', 'resource', 'token_type']);
    expect(body).toMatchObject({ resource: 'https://servicebus.azure.net/', token_type: 'Bearer', client_id: env.AZURE_CLIENT_ID });
  });

  it('refuses a request without the header (401), without resource or with another api-version (400)', async () => {
    const secret = issuer.environmentFor('agent').IDENTITY_HEADER;
    expect((await get('api-version=2019-08-01&resource=x')).status).toBe(401);
    expect(await get('api-version=2019-08-01', secret)).toMatchObject({ status: 400, body: { message: expect.stringContaining("'resource'") } });
    expect(await get('api-version=2017-09-01&resource=x', secret)).toMatchObject({ status: 400, body: { message: expect.stringContaining('2019-08-01') } });
  });

  it('mints expired and not-yet-valid tokens for tests', () => {
    const now = Date.now();
    const expired = decode(issuer.mint('agent', 'aud', { notBefore: new Date(now - 7200_000), lifetimeSeconds: 3600 })).claims;
    expect(expired.exp as number).toBeLessThan(now / 1000 - 3000);
    const early = decode(issuer.mint('agent', 'aud', { notBefore: new Date(now + 600_000) })).claims;
    expect(early.nbf as number).toBeGreaterThan(now / 1000 + 500);
    expect(() => issuer.mint('nobody', 'aud')).toThrow("No principal is named 'nobody'; the issuer knows 'agent', 'app'.");
  });

  it('rejects bad options with a message naming the field', async () => {
    await expect(startTokenIssuer({ tokenLifetimeSeconds: 0 })).rejects.toThrow('tokenLifetimeSeconds: expected a positive whole number');
    const p = newPrincipal('a');
    await expect(startTokenIssuer({ principals: [p, { ...p, name: 'b' }] })).rejects.toThrow(`principals[1].clientId: '${p.clientId}' is given twice.`);
  });
});
