// Who may call the ARM endpoint. Without Entra ID settings, any bearer token (the emulator's
// loopback convenience). With them, as ARM: the token must be valid for ARM (signature, issuer,
// an ARM audience, lifetime), else 401; and the principal needs a role at namespace scope: any
// role to read, one whose actions include writes (Azure Service Bus Data Owner, which carries
// `Microsoft.ServiceBus/*`, Owner, Contributor) to create, update or delete, else 403.
import { ARM_AUDIENCES, type Entra } from '../auth/entra.js';
import { TokenError, verifyJwt } from '../auth/jwt.js';
import { armAllows } from '../auth/rbac.js';
import { armErrors } from './errors.js';
import type { Route } from './routes.js';

/** The caller's object id, or undefined when no Entra ID settings are given (any token then). */
export function authenticate(header: string | undefined, entra: Entra | undefined, now: number): string | undefined {
  if (!header) throw armErrors.unauthenticated("The 'Authorization' header is missing.");
  const [scheme, token] = header.split(/\s+/, 2);
  if (scheme?.toLowerCase() !== 'bearer' || !token) {
    throw armErrors.unauthenticated(`The 'Authorization' header must be 'Bearer <token>'${entra ? '' : ' (any token is accepted)'}.`);
  }
  if (!entra) return undefined;
  try {
    return verifyJwt(token, entra.trust, ARM_AUDIENCES, now).objectId;
  } catch (e) {
    if (!(e instanceof TokenError)) throw e;
    throw tokenRefusal(e, now);
  }
}

/** Throws 403 `AuthorizationFailed` unless `objectId`'s roles allow `method` on `route`. */
export function authorize(entra: Entra, objectId: string, route: Route, method: string, scope: string): void {
  const write = method !== 'GET' && method !== 'HEAD';
  if (armAllows(entra.roleAssignments, objectId, write)) return;
  throw armErrors.forbidden(objectId, actionOf(route, method), scope);
}

/** ARM's codes and wording for a refused token. */
function tokenRefusal(e: TokenError, now: number) {
  switch (e.code) {
    case 'ExpiredToken':
      return armErrors.invalidToken(
        'ExpiredAuthenticationToken',
        `The access token expiry UTC time '${utc(e.detail.expiresAt ?? 0)}' is earlier than current UTC time '${utc(now)}'.`,
      );
    case 'InvalidAudience':
      return armErrors.invalidToken(
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${e.detail.audience ?? ''}'. It should exactly match with one of the allowed audiences ${ARM_AUDIENCES.map((a) => `'${a}'`).join(',')}.`,
      );
    default:
      return armErrors.invalidToken('InvalidAuthenticationToken', `The access token is invalid. ${e.message}`);
  }
}

/** The Azure action a request performs, e.g. `Microsoft.ServiceBus/namespaces/queues/write`. */
function actionOf(route: Route, method: string): string {
  const type = {
    namespaces: 'namespaces',
    namespace: 'namespaces',
    queues: 'namespaces/queues',
    queue: 'namespaces/queues',
    topics: 'namespaces/topics',
    topic: 'namespaces/topics',
    subscriptions: 'namespaces/topics/subscriptions',
    subscription: 'namespaces/topics/subscriptions',
    rules: 'namespaces/topics/subscriptions/rules',
    rule: 'namespaces/topics/subscriptions/rules',
  }[route.kind];
  const verb = method === 'DELETE' ? 'delete' : method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  return `Microsoft.ServiceBus/${type}/${verb}`;
}

/** `M/D/YYYY h:mm:ss AM`, as ARM writes times in this message. */
function utc(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours() % 12 || 12;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}
