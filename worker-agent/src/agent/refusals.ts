// Service Bus refusing this node for want of a right: "Unauthorized access. 'Listen' claim(s) are
// required to perform this operation. Resource: '…'" (code UnauthorizedAccess), when the node's
// identity has no role on an entity (or its SAS policy lacks the claim). The agent is a daemon and
// a role may be assigned later, so it keeps retrying; but each retry's error says nothing an
// operator can act on, so a refusal is logged once per entity and claim (`bus-refused`), naming
// the role to assign, and again only after that entity answered in between.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BusConfig } from '../commands/config.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import type { Logger } from '../common/log.js';
import { lastAttempt, missingClaim, ROLE_FOR_CLAIM, type Claim } from '../contract/refusal.js';

export { missingClaim, type Claim };


/** The running agent's refusals, in its state directory, for `workforce-agent status`. */
export const REFUSALS_FILE = 'refusals.json';

/** How long a refused receive loop waits before asking again: a role takes minutes to assign. */
export const REFUSED_RETRY_MS = 30_000;

/** An error's message for the log, the last attempt's for the SDK's AggregateError. */
export function errorText(err: unknown): string {
  const e = lastAttempt(err);
  return e instanceof Error ? e.message : String(e);
}

/** What an operator reads, for `entity` ("subscription 'eu-west/shutdown'"). */
export function refusalReason(claim: Claim, bus: BusConfig['kind'], entity: string): string {
  return bus === 'credential'
    ? `this node's identity lacks ${claim} on ${entity}: assign it ${ROLE_FOR_CLAIM[claim]} on it (or on the namespace); retrying until then`
    : `this node's connection string lacks ${claim} on ${entity}: use a shared access policy with the ${claim} claim; retrying until then`;
}

export interface Refusal {
  entity: string;
  claim: Claim;
  reason: string;
  since: string;
}

/**
 * The refusals this agent has met and not seen answered since; with a state directory, kept in
 * its REFUSALS_FILE (emptied at start: an earlier run's are stale).
 */
export class Refusals {
  private readonly current = new Map<string, Refusal>();

  constructor(
    private readonly log: Logger,
    private readonly bus: BusConfig['kind'],
    private readonly stateDir?: string,
  ) {
    this.save();
  }

  /** True when `err` is a refusal on `entity`; logged the first time for its entity and claim. */
  noted(err: unknown, entity: string): boolean {
    const claim = missingClaim(err);
    if (claim === undefined) return false;
    const key = `${entity}\u0000${claim}`;
    if (!this.current.has(key)) {
      const refusal = { entity, claim, reason: refusalReason(claim, this.bus, entity), since: new Date().toISOString() };
      this.current.set(key, refusal);
      this.log.error('bus-refused', { entity, claim, reason: refusal.reason });
      this.save();
    }
    return true;
  }

  /** `entity` answered: a later refusal there is news again. */
  answered(entity: string): void {
    for (const [key, refusal] of this.current) {
      if (refusal.entity !== entity) continue;
      this.current.delete(key);
      this.log.info('bus-allowed', { entity, claim: refusal.claim });
      this.save();
    }
  }

  list(): Refusal[] {
    return [...this.current.values()];
  }

  private save(): void {
    if (this.stateDir === undefined) return;
    try {
      writeFileAtomic(join(this.stateDir, REFUSALS_FILE), `${JSON.stringify(this.list())}\n`);
    } catch (err) {
      // Only `status` reads it; the log line was written.
      this.log.debug('refusals-not-saved', { error: (err as Error).message });
    }
  }
}

/** What a running agent's REFUSALS_FILE lists; none when it cannot be read. */
export function readRefusals(stateDir: string): Refusal[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(join(stateDir, REFUSALS_FILE), 'utf8'));
    return Array.isArray(parsed) ? parsed.filter((r): r is Refusal => typeof r?.reason === 'string' && typeof r?.entity === 'string') : [];
  } catch {
    return [];
  }
}
