// One connection's authorisation: the grants its put-tokens gave, and the links they authorised.
// A token's expiry ends its rights. Azure's AMQP guide: "When a token expires, Service Bus
// promptly drops all links on the connection to the respective entity"; the client avoids it by
// putting a new token for the entity before then (the SDKs renew a few minutes ahead). So when a
// grant ends, every link of the connection that no other live grant still authorises is
// detached with `amqp:unauthorized-access` (ExpiredToken).
import type { Right } from '../auth/rbac.js';
import { tokenRefused, type EmulatorError } from '../errors.js';
import type { CbsAuthority, Grant, PutToken } from './cbs.js';

/** Grants kept per connection: the SDKs put one per link and renewal; old ones are dropped. */
const MAX_GRANTS = 1000;
/** setTimeout's limit (about 24.8 days); a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Authorised {
  readonly address: string;
  readonly right: Right | undefined;
}

export class ConnectionAuth<Link extends object> {
  private readonly grants: Grant[] = [];
  private readonly links = new Map<Link, Authorised>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly authority: CbsAuthority,
    /** The host the client connected to (its open frame), for audiences and Azure's wording. */
    private readonly namespace: () => string | undefined,
    /** Detaches a link whose rights ended. */
    private readonly detach: (link: Link, error: EmulatorError) => void,
  ) {}

  /** Verifies a put-token and keeps its grant; throws an `Unauthorized` EmulatorError. */
  putToken(request: Omit<PutToken, 'host'>): Grant {
    const now = Date.now();
    const grant = this.authority.putToken({ ...request, host: this.namespace() }, now);
    // Ended grants authorise nothing; drop them so that checks stay short on long-lived connections.
    for (let i = this.grants.length - 1; i >= 0; i--) if (this.grants[i]!.expiresAt <= now) this.grants.splice(i, 1);
    this.grants.push(grant);
    if (this.grants.length > MAX_GRANTS) this.grants.splice(0, this.grants.length - MAX_GRANTS);
    this.whenExpired(grant);
    return grant;
  }

  /** Throws `Unauthorized` unless a live grant covers `address` with `right`. */
  authorize(address: string, right?: Right): void {
    this.authority.check(this.grants, address, right, Date.now(), this.namespace());
  }

  /** Remembers a link that `authorize(address, right)` let attach, to end it with its rights. */
  track(link: Link, address: string, right?: Right): void {
    this.links.set(link, { address, right });
  }

  untrack(link: Link): void {
    this.links.delete(link);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.links.clear();
  }

  private whenExpired(grant: Grant): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (grant.expiresAt > Date.now()) this.whenExpired(grant);
      else this.detachUnauthorised(grant);
    }, Math.min(Math.max(0, grant.expiresAt - Date.now()), MAX_TIMER_MS));
    timer.unref();
    this.timers.add(timer);
  }

  private detachUnauthorised(expired: Grant): void {
    const when = `${new Date(expired.expiresAt).toISOString().slice(0, 19).replace('T', ' ')}Z`;
    for (const [link, { address, right }] of [...this.links]) {
      try {
        this.authorize(address, right);
      } catch {
        this.links.delete(link);
        this.detach(link, tokenRefused('ExpiredToken', `The token is expired. Expiration time: '${when}'`));
      }
    }
  }
}
