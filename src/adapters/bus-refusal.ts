// A Service Bus refusal for want of a right: an operation whose identity (or SAS policy) lacks
// the claim it needs is answered `Unauthorized access. 'Send' claim(s) are required to perform
// this operation. Resource: '…'` (code UnauthorizedAccess). Retrying cannot grant a role, yet
// the SDK retries it (core-amqp counts UnauthorizedError as retryable, for rotated keys: three
// more tries, 30 s apart by default), so a missing role took minutes to show. Callers that must
// fail fast use a client with one try per call (service-bus.ts ONE_TRY) and retry with `retryUnlessRefused`,
// which keeps the SDK's schedule for everything else.

import { missingClaim, ROLE_FOR_CLAIM, type Claim } from '@workforce/worker-agent/contract';
import type { ServiceBusAccess } from '../config.js';

export { missingClaim, type Claim };

/** The SDK's default schedule (core-amqp's Constants): three retries, 30 s apart. */
const RETRIES = 3;
const RETRY_DELAY_MS = 30_000;

/**
 * What an operator reads: "the app's identity lacks Send on topic 'x' (assign it Azure Service
 * Bus Data Sender on it or on the namespace)". `entity` names the entity: "topic 'x'"; `whose`
 * whose identity or connection string it is ("your" for the CLI).
 */
export function refusalReason(claim: Claim, access: ServiceBusAccess, entity: string, whose = "the app's"): string {
  return access.kind === 'identity'
    ? `${whose} identity lacks ${claim} on ${entity} (assign it ${ROLE_FOR_CLAIM[claim]} on it or on the namespace)`
    : `${whose} connection string lacks ${claim} on ${entity} (use a shared access policy with the ${claim} claim)`;
}

/**
 * Runs `operation` (whose client makes one try per call), retrying what the SDK would retry on
 * its default schedule, except a refusal: that, and any error the SDK would not retry, is thrown
 * at once.
 */
export async function retryUnlessRefused<T>(operation: () => Promise<T>, retries = RETRIES, delayMs = RETRY_DELAY_MS): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      const retryable = (err as { retryable?: unknown } | null)?.retryable === true && missingClaim(err) === undefined;
      if (!retryable || attempt >= retries) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
