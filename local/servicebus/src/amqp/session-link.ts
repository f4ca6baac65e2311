// A session receiver's link, as the SDK opens it (`acceptSession`, `acceptNextSession`): the
// `com.microsoft:session-filter` source filter of its attach names the session to accept, or is
// null for the next available one. The attach that answers it names the session accepted (the
// same filter) and carries its lock's expiry (`com.microsoft:locked-until-utc`, in .NET ticks).
// With no session available, Service Bus holds the answer until one is, or until the timeout the
// client gave (`com.microsoft:timeout`), and then refuses the link with `com.microsoft:timeout`;
// so does this (patched rhea: `hold_attach`).
import rhea, { type Sender } from 'rhea';
import type { Broker } from '../broker/broker.js';
import type { Subqueue } from '../broker/entities.js';
import type { Holder } from '../broker/sessions.js';
import { invalidOperation, invalidRequest, operationTimeout, toEmulatorError } from '../errors.js';
import type { LinkConsumer } from './link-consumer.js';

const { types } = rhea;

export const SESSION_FILTER = 'com.microsoft:session-filter';
const LOCKED_UNTIL = 'com.microsoft:locked-until-utc';
const CLIENT_TIMEOUT = 'com.microsoft:timeout';
/** Service Bus waits at most 65 s for a session when the client names no timeout. */
const DEFAULT_WAIT_MS = 65_000;
/** .NET ticks (100 ns) from 0001-01-01 to the Unix epoch. */
const EPOCH_TICKS = 621_355_968_000_000_000n;

/** The session filter of a receiver's attach: present (a string, or null for any session), or absent. */
export function sessionFilter(link: Sender): { requested: unknown } | undefined {
  const filter = (link.source as { filter?: Record<string, unknown> | null } | undefined)?.filter;
  return filter && SESSION_FILTER in filter ? { requested: filter[SESSION_FILTER] } : undefined;
}

/** Refuses a plain receiver on a session-enabled entity, in Azure's words. */
export function checkPlainReceiver(sq: Subqueue): void {
  if (sq.requiresSession) {
    throw invalidOperation(
      `It is not possible for an entity that requires sessions to create a non-sessionful message receiver ('${sq.path}'). Accept a session (acceptSession, acceptNextSession).`,
    );
  }
}

/**
 * Accepts the requested session for `consumer`, or waits for the next available one. Throws
 * (the caller refuses the link) when the entity has no sessions or the session is locked.
 */
export function openSessionLink(broker: Broker, link: Sender, sq: Subqueue, consumer: LinkConsumer, requested: unknown): void {
  if (!sq.requiresSession) {
    throw invalidOperation(
      `A sessionful message receiver cannot be created on an entity that does not require sessions ('${sq.path}'). Ensure RequiresSession is set to true when creating a Queue or Subscription to enable sessionful behavior.`,
    );
  }
  const sessions = broker.sessions;
  if (typeof requested === 'string') {
    answer(link, sessions.accept(sq, requested, consumer));
    return;
  }
  if (requested !== null && requested !== undefined) throw invalidRequest(`The ${SESSION_FILTER} filter must be a session id or null.`);
  const holder = sessions.acceptNext(sq, consumer);
  if (holder) {
    answer(link, holder);
    return;
  }
  link.hold_attach();
  const waitMs = clientTimeout(link);
  sessions.wait(sq, consumer, waitMs, operationTimeout(`No session of '${sq.path}' became available within ${waitMs} ms.`), {
    // The peer's attach, its AMQP session and its connection are all still there.
    stillWaiting: () => link.is_remote_open(),
    granted: (granted) => {
      answer(link, granted);
      link.open();
      sessions.pump(granted);
    },
    ended: (error) => {
      // The held attach is answered, then detached (with the reason, if any).
      if (!link.connection.is_open()) return;
      link.open();
      link.close(error ? toEmulatorError(error).toAmqpError() : undefined);
    },
  });
}

function answer(link: Sender, holder: Holder): void {
  link.set_source({ address: link.source?.address, filter: { [SESSION_FILTER]: holder.sessionId } } as never);
  link.set_attach_fields({ properties: { [LOCKED_UNTIL]: ticks(holder.lockedUntil) } });
}

/** A time as .NET ticks in an AMQP long, as Service Bus sends `locked-until-utc`. */
function ticks(ms: number): unknown {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(BigInt(Math.trunc(ms)) * 10_000n + EPOCH_TICKS);
  return types.wrap_long(bytes);
}

function clientTimeout(link: Sender): number {
  const given = (link.properties as Record<string, unknown> | undefined)?.[CLIENT_TIMEOUT];
  return typeof given === 'number' && Number.isFinite(given) && given > 0 ? Math.min(given, 2_147_483_647) : DEFAULT_WAIT_MS;
}
