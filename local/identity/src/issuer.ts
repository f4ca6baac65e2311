// A local stand-in for Entra ID's managed-identity endpoint, in App Service's protocol (the one
// `@azure/identity`'s ManagedIdentityCredential uses when IDENTITY_ENDPOINT and IDENTITY_HEADER
// are set): GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=<resource>[&client_id=<id>]
// with the header `X-IDENTITY-HEADER: <secret>`, answered with
// { access_token, expires_on, resource, token_type, client_id }.
//
// Each principal stands for one App Service app with one user-assigned identity: it has its own
// secret, and the secret says which identity asks (a process can only present the secret it was
// given). Tokens are RS256 JWTs with Entra's v1 claims, signed by a key made at start-up and
// published in `jwks` for the validators (the Service Bus emulator) to trust.
import { randomBytes, randomUUID, timingSafeEqual, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSigningKey, signJwt } from './jwt.js';

/** One managed identity. */
export interface Principal {
  /** How tests and the local system name it (`agent`, `app`, …). */
  name: string;
  /** The identity's application (client) id: the token's `appid`, `AZURE_CLIENT_ID`. */
  clientId: string;
  /** Its object (principal) id: the token's `oid` and `sub`, what role assignments name. */
  objectId: string;
}

export interface IssuerLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A principal as it is kept across restarts: with the secret its processes were given. */
export interface PrincipalWithSecret extends Principal {
  /** Its IDENTITY_HEADER; default a new random one. */
  secret?: string;
}

/** What makes an issuer the same across restarts (see state-file.ts): tenant, key, principals. */
export interface IssuerState {
  tenantId: string;
  /** The signing key's private half, PKCS#8 PEM. */
  signingKey: string;
  principals: Array<Principal & { secret: string }>;
}

export interface TokenIssuerOptions {
  principals?: PrincipalWithSecret[];
  /** Lifetime of the tokens the endpoint hands out. Default 3600 (an hour, as Entra's). */
  tokenLifetimeSeconds?: number;
  /** Default: a random tenant id. */
  tenantId?: string;
  /** The signing key's private half (PEM), to keep the key of an earlier run; default a new key. */
  signingKey?: string;
  /** HTTP port on 127.0.0.1; default 0 (a free port). */
  port?: number;
  logger?: IssuerLogger;
}

export interface MintOptions {
  /** Default: the issuer's `tokenLifetimeSeconds`. Counted from `notBefore`. */
  lifetimeSeconds?: number;
  /** Default: now. A future time makes a token that is not valid yet. */
  notBefore?: Date;
}

/** The managed-identity environment of one principal, as App Service sets it for an app. */
export interface IdentityEnvironment {
  IDENTITY_ENDPOINT: string;
  IDENTITY_HEADER: string;
  AZURE_CLIENT_ID: string;
}

export interface TokenIssuer {
  /** The `iss` of every token: `https://sts.windows.net/<tenantId>/`. */
  readonly issuer: string;
  readonly tenantId: string;
  /** The public key(s) a validator trusts. */
  readonly jwks: { keys: JsonWebKey[] };
  /** The endpoint's URL (IDENTITY_ENDPOINT). */
  readonly endpoint: string;
  readonly principals: readonly Principal[];
  /** The variables that make ManagedIdentityCredential (and DefaultAzureCredential) this principal. */
  environmentFor(name: string): IdentityEnvironment;
  /** A token for `name` and `audience` without the HTTP round trip (tests: expired or early tokens). */
  mint(name: string, audience: string, options?: MintOptions): string;
  /** Tenant, private key and principals with their secrets: what a restart needs to be this issuer again. */
  state(): IssuerState;
  /** Stops listening. Idempotent. */
  close(): Promise<void>;
}

export const APP_SERVICE_API_VERSION = '2019-08-01';
const TOKEN_PATH = '/msi/token';
const IDENTITY_HEADER = 'x-identity-header';
const DEFAULT_LIFETIME_SECONDS = 3600;

const silent: IssuerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A principal with fresh random ids. */
export function newPrincipal(name: string): Principal {
  return { name, clientId: randomUUID(), objectId: randomUUID() };
}

export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const logger = options.logger ?? silent;
  const lifetime = options.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime <= 0) {
    throw new TypeError(`tokenLifetimeSeconds: expected a positive whole number of seconds, got ${String(lifetime)}`);
  }
  const given = options.principals ?? [];
  const principals = validatePrincipals(given);
  const tenantId = options.tenantId ?? randomUUID();
  const issuer = `https://sts.windows.net/${tenantId}/`;
  const key = createSigningKey(options.signingKey);
  // One secret per principal, as each App Service app has its own IDENTITY_HEADER.
  const secrets = new Map(given.map((p, i) => [p.name, secretOf(p, i)]));

  const principal = (name: string): Principal => {
    const found = principals.find((p) => p.name === name);
    if (!found) throw new Error(`No principal is named '${name}'; the issuer knows ${principals.map((p) => `'${p.name}'`).join(', ') || 'none'}.`);
    return found;
  };

  /** A signed token and its `exp`: the token endpoint's `expires_on` is the token's own, not read from the clock again. */
  const mintToken = (name: string, audience: string, mintOptions: MintOptions = {}): { token: string; exp: number } => {
    const p = principal(name);
    if (typeof audience !== 'string' || audience === '') throw new Error('mint: the audience must be a non-empty string.');
    const seconds = mintOptions.lifetimeSeconds ?? lifetime;
    if (!Number.isFinite(seconds)) throw new Error(`mint: lifetimeSeconds must be a number, got ${String(seconds)}`);
    const now = Math.floor(Date.now() / 1000);
    const nbf = mintOptions.notBefore ? Math.floor(mintOptions.notBefore.getTime() / 1000) : now;
    const exp = nbf + Math.floor(seconds);
    const token = signJwt(key, {
      aud: audience,
      iss: issuer,
      iat: now,
      nbf,
      exp,
      appid: p.clientId,
      appidacr: '2',
      idp: issuer,
      idtyp: 'app',
      oid: p.objectId,
      sub: p.objectId,
      tid: tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
    });
    return { token, exp };
  };
  const mint = (name: string, audience: string, mintOptions: MintOptions = {}): string => mintToken(name, audience, mintOptions).token;

  /** The principal whose secret `given` is, compared in constant time. */
  const byHeader = (given: string | undefined): Principal | undefined => {
    if (!given) return undefined;
    const g = Buffer.from(given);
    let found: Principal | undefined;
    for (const p of principals) {
      const s = Buffer.from(secrets.get(p.name)!);
      if (s.length === g.length && timingSafeEqual(s, g)) found = p;
    }
    return found;
  };

  const server = createServer((req, res) => {
    const reply = answer(req);
    logger.debug('token request', { status: reply.status, ...(reply.log ?? {}) });
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });

  function answer(req: IncomingMessage): { status: number; body: unknown; log?: Record<string, unknown> } {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.replace(/\/+$/, '').toLowerCase() !== TOKEN_PATH) return failure(404, 'not_found', `No endpoint at '${url.pathname}'; tokens are at ${TOKEN_PATH}.`);
    if (req.method !== 'GET') return failure(405, 'invalid_request', `Use GET, not ${req.method}.`);
    const header = req.headers[IDENTITY_HEADER];
    const p = byHeader(typeof header === 'string' ? header : undefined);
    if (!p) {
      const why = header ? 'does not belong to any identity of this issuer' : 'is missing';
      logger.info('token request refused', { reason: `X-IDENTITY-HEADER ${why}` });
      return failure(401, 'unauthorized_client', `The X-IDENTITY-HEADER header ${why}: send the IDENTITY_HEADER of the identity's environment.`);
    }
    const query = url.searchParams;
    const apiVersion = query.get('api-version');
    if (apiVersion !== APP_SERVICE_API_VERSION) {
      return failure(400, 'invalid_request', `api-version must be ${APP_SERVICE_API_VERSION} (the App Service protocol), got '${apiVersion ?? ''}'.`);
    }
    const resource = query.get('resource');
    if (!resource) return failure(400, 'invalid_request', "The 'resource' query parameter is required (e.g. https://servicebus.azure.net/).");
    const clientId = query.get('client_id');
    if (clientId !== null && clientId.toLowerCase() !== p.clientId.toLowerCase()) {
      logger.info('token request refused', { principal: p.name, reason: `client_id ${clientId} is not this identity's` });
      return failure(400, 'invalid_request', `client_id '${clientId}' is not the identity of this IDENTITY_HEADER (its client id is ${p.clientId}).`);
    }
    const objectId = query.get('object_id');
    if (objectId !== null && objectId.toLowerCase() !== p.objectId.toLowerCase()) {
      return failure(400, 'invalid_request', `object_id '${objectId}' is not the identity of this IDENTITY_HEADER (its object id is ${p.objectId}).`);
    }
    if (query.has('mi_res_id')) return failure(400, 'invalid_request', 'mi_res_id (an ARM resource id) is not modelled: use client_id or object_id.');
    const { token, exp } = mintToken(p.name, resource);
    return {
      status: 200,
      body: { access_token: token, expires_on: exp, resource, token_type: 'Bearer', client_id: p.clientId },
      log: { principal: p.name, resource },
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}${TOKEN_PATH}`;
  logger.info('token issuer started', { endpoint, issuer, principals: principals.map((p) => p.name) });

  let closing: Promise<void> | undefined;
  return {
    issuer,
    tenantId,
    jwks: { keys: [key.jwk] },
    endpoint,
    principals,
    environmentFor(name) {
      const p = principal(name);
      return { IDENTITY_ENDPOINT: endpoint, IDENTITY_HEADER: secrets.get(p.name)!, AZURE_CLIENT_ID: p.clientId };
    },
    mint,
    state: () => ({
      tenantId,
      signingKey: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      principals: principals.map((p) => ({ ...p, secret: secrets.get(p.name)! })),
    }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** A given secret (checked: long and plain enough to be a header), or a new random one. */
function secretOf(p: PrincipalWithSecret, i: number): string {
  if (p.secret === undefined) return randomBytes(24).toString('base64url');
  if (typeof p.secret !== 'string' || !/^[A-Za-z0-9_-]{16,}$/.test(p.secret)) {
    throw new TypeError(`principals[${i}].secret: expected 16 or more base64url characters (an IDENTITY_HEADER).`);
  }
  return p.secret;
}

function failure(status: number, error: string, message: string): { status: number; body: unknown } {
  // msal-node reads `error` and takes `message` as the description.
  return { status, body: { error, error_description: message, message } };
}

function validatePrincipals(principals: readonly Principal[]): readonly Principal[] {
  const seen = new Set<string>();
  for (const [i, p] of principals.entries()) {
    for (const field of ['name', 'clientId', 'objectId'] as const) {
      if (typeof p?.[field] !== 'string' || p[field] === '') throw new TypeError(`principals[${i}].${field}: expected a non-empty string.`);
    }
    for (const [field, value] of [['name', p.name], ['clientId', p.clientId.toLowerCase()], ['objectId', p.objectId.toLowerCase()]] as const) {
      if (seen.has(`${field}:${value}`)) throw new TypeError(`principals[${i}].${field}: '${value}' is given twice.`);
      seen.add(`${field}:${value}`);
    }
  }
  return Object.freeze(principals.map((p) => Object.freeze({ name: p.name, clientId: p.clientId, objectId: p.objectId })));
}
