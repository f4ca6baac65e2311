// The settled outcomes the adapter answers a peer's disposition with.
import rhea from 'rhea';
import type { Settlement } from '../broker/broker.js';
import { toEmulatorError } from '../errors.js';

/** Delivery outcomes (rhea exports them at runtime but not in its typings). */
const outcomes = rhea.message as unknown as {
  accepted(): { described(): unknown };
  rejected(fields: { error?: { condition: string; description: string } }): { described(): unknown };
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean }): { described(): unknown };
};

/** The outcome that confirms a settlement. */
export function successOutcome(s: Settlement): unknown {
  switch (s.kind) {
    case 'complete':
      return outcomes.accepted().described();
    case 'abandon':
      return outcomes.modified({ delivery_failed: true, undeliverable_here: false }).described();
    case 'defer':
      return outcomes.modified({ delivery_failed: false, undeliverable_here: true }).described();
    case 'deadLetter':
      return outcomes.rejected({}).described();
  }
}

/** The outcome that refuses a settlement, with the error. */
export function failureOutcome(error: unknown): unknown {
  return outcomes.rejected({ error: toEmulatorError(error).toAmqpError() }).described();
}
