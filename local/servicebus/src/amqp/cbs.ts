// Claims-based security on `$cbs`: a put-token gives the connection a grant for an audience
// (an entity path), and links and operations on that entity need a live grant with the right
// they use. Two token types, as on Azure:
//  - `servicebus.windows.net:sastoken`: a SAS token; the emulator's keys are namespace-wide
//    RootManage keys, so a valid one grants Manage, Send and Listen on its `sr`;
//  - `jwt`: an Entra access token (with the `entra` option): verified (signature, issuer,
//    audience, lifetime), then granted, on the put-token's `name`, the rights of the roles that
//    the token's principal (`oid`) holds at a scope covering that entity.
import type { SasKey } from '../auth/sas.js';
import { tokenCovers, verifySasToken } from '../auth/sas.js';
import { SERVICE_BUS_AUDIENCES, type Entra } from '../auth/entra.js';
import { TokenError, verifyJwt } from '../auth/jwt.js';
import { dataRights, type EntityKind, type Right } from '../auth/rbac.js';
import { claimRequired, invalidRequest, tokenRefused, unauthorized } from '../errors.js';

export const SAS_TOKEN_TYPE = 'servicebus.windows.net:sastoken';
export const JWT_TOKEN_TYPE = 'jwt';

export interface Grant {
  /** What the token was put for (SAS: its `sr`; JWT: the put-token's `name`). */
  readonly resource: string;
  /** ms since the epoch; the grant ends then. */
  readonly expiresAt: number;
  readonly rights: ReadonlySet<Right>;
  readonly type: 'sas' | 'jwt';
  /** For JWT: the principal's object id. */
  readonly principal?: string;
}

const ALL_RIGHTS: ReadonlySet<Right> = new Set<Right>(['Manage', 'Send', 'Listen']);

export interface CbsOptions {
  keys: readonly SasKey[];
  entra?: Entra | undefined;
  kindOf: EntityKind;
}

export interface PutToken {
  type: unknown;
  token: unknown;
  /** The audience (`name` application property): `sb://<host>/<entity>`. */
  name: unknown;
  /** The host name the client connected to: `https://<host>/` is also an accepted JWT audience. */
  host: string | undefined;
}

export class CbsAuthority {
  constructor(private readonly options: CbsOptions) {}

  /** The grant a put-token gives; throws an `Unauthorized` EmulatorError when the token is refused. */
  putToken(request: PutToken, now: number): Grant {
    if (request.type === SAS_TOKEN_TYPE) {
      const sas = verifySasToken(request.token, this.options.keys, now);
      return { resource: sas.resource, expiresAt: sas.expiresAt, rights: ALL_RIGHTS, type: 'sas' };
    }
    if (request.type !== JWT_TOKEN_TYPE) throw unauthorized(`token type '${String(request.type)}' is not supported; use a SAS token or, with Entra ID configured, a JWT.`);
    const entra = this.options.entra;
    if (!entra) {
      throw unauthorized("an Entra ID token (type 'jwt') needs the emulator's Entra settings (the entra option, \"entra\" in the config file, or --entra FILE); use a SAS key otherwise.");
    }
    if (typeof request.name !== 'string' || request.name === '') throw invalidRequest("put-token needs a 'name': the audience (entity) the token is for.");
    const audiences = [...SERVICE_BUS_AUDIENCES, ...(request.host ? [`https://${request.host}/`, `https://${request.host}`] : [])];
    let jwt;
    try {
      jwt = verifyJwt(request.token, entra.trust, audiences, now);
    } catch (e) {
      if (e instanceof TokenError) throw tokenRefused(e.code, e.message);
      throw e;
    }
    const rights = dataRights(entra.roleAssignments, jwt.objectId, request.name, this.options.kindOf);
    return { resource: request.name, expiresAt: jwt.expiresAt + entra.trust.clockSkewMs, rights, type: 'jwt', principal: jwt.objectId };
  }

  /**
   * Throws `Unauthorized` unless a live grant covers `address` with `right` (with none given:
   * any live grant, as for attaching `$management`, whose operations are checked one by one).
   */
  check(grants: readonly Grant[], address: string, right: Right | undefined, now: number, namespace: string | undefined): void {
    const covering = grants.filter((g) => g.expiresAt > now && tokenCovers(g.resource, address));
    if (covering.length === 0) throw unauthorized(`no valid token for '${address}': put one on $cbs first (the SDKs do).`);
    if (right && !covering.some((g) => g.rights.has(right))) {
      const path = address.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/^\/+/, '');
      throw claimRequired(right, `sb://${namespace ?? 'localhost'}/${path}`);
    }
  }
}
