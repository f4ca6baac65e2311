// The SASL mechanisms the AMQP listeners offer. Azure Service Bus lists
// `MSSBCBS PLAIN ANONYMOUS EXTERNAL` in its sasl-mechanisms frame. Its own SDKs pick one that
// proves nothing and authorise afterwards with a token on `$cbs`: uamqp (the Python and C SDKs)
// and the .NET stack pick `MSSBCBS`, rhea (the JS SDK) picks `ANONYMOUS`. Both are offered here,
// in Azure's order, and both lead to the same `$cbs` authorisation.
//
// Not offered: `PLAIN` (SAS key name and key as user and password) authorises the whole
// connection on Azure, with no `$cbs` after it; the emulator authorises per token only, and
// offering PLAIN without that would accept clients that then fail on every link. `EXTERNAL`
// needs a client certificate, which the listeners do not ask for.

/** What rhea's SASL server expects of a mechanism (sasl.js: `start` sets `outcome`). */
interface ServerMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  start(response: Buffer | undefined, hostname: string | undefined): void;
}

/**
 * The container's `sasl_server_mechanisms`: mechanism name → factory, offered in insertion
 * order, with rhea's `enable_anonymous` on its prototype.
 */
export type ServerMechanisms = Record<string, () => ServerMechanism> & { enable_anonymous(): void };

export const OFFERED_SASL_MECHANISMS = ['MSSBCBS', 'ANONYMOUS'] as const;

/**
 * `MSSBCBS`: "claims-based security follows on $cbs". The init carries nothing to check (uamqp
 * sends an empty response), so the outcome is ok, as on Azure.
 */
function claimsBasedSecurity(): ServerMechanism {
  return {
    outcome: undefined,
    username: undefined,
    start() {
      this.outcome = true;
      this.username = 'MSSBCBS';
    },
  };
}

/** Adds the mechanisms to rhea's container-wide set: `MSSBCBS` first, then rhea's own ANONYMOUS. */
export function offerServiceBusMechanisms(mechanisms: ServerMechanisms): void {
  mechanisms.MSSBCBS = claimsBasedSecurity;
  mechanisms.enable_anonymous();
  const offered = Object.getOwnPropertyNames(mechanisms);
  // rhea lists own property names in the frame; anything else there would be offered unchecked.
  if (offered.join(' ') !== OFFERED_SASL_MECHANISMS.join(' ')) {
    throw new Error(`SASL mechanisms offered: ${offered.join(' ')}; expected ${OFFERED_SASL_MECHANISMS.join(' ')} (rhea changed?)`);
  }
}
