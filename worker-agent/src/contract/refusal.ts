// Service Bus refusing a caller for want of a right: "Unauthorized access. 'Send' claim(s) are
// required to perform this operation. Resource: '…'", when an identity has no role on an entity
// (or a SAS policy lacks the claim). The agent and the control plane both name it to operators,
// with the role that grants it. Pure: no Azure imports (the SDK's errors are read by shape).

export type Claim = 'Send' | 'Listen' | 'Manage';

const CLAIM = /'(Send|Listen|Manage)' claim\(s\) are required/;

/** The built-in role that gives each claim, as an operator assigns it. */
export const ROLE_FOR_CLAIM: Readonly<Record<Claim, string>> = {
  Send: 'Azure Service Bus Data Sender',
  Listen: 'Azure Service Bus Data Receiver',
  Manage: 'Azure Service Bus Data Owner',
};

/**
 * What the last attempt failed with. After its retries the SDK throws an AggregateError of every
 * attempt's error, with no message and no code (core-amqp 4.4).
 */
export function lastAttempt(err: unknown): unknown {
  let e = err;
  while (e instanceof AggregateError && e.errors.length > 0) e = e.errors.at(-1);
  return e;
}

/**
 * The claim a refusal names (the last attempt's); undefined for any other failure, an expired
 * token included. `UnauthorizedError` is core-amqp's name, which the SDK leaves untranslated when
 * a link's attach is refused; `UnauthorizedAccess` the SDK's.
 */
export function missingClaim(err: unknown): Claim | undefined {
  const { code, message } = (lastAttempt(err) ?? {}) as { code?: unknown; message?: unknown };
  if ((code !== 'UnauthorizedAccess' && code !== 'UnauthorizedError') || typeof message !== 'string') return undefined;
  return CLAIM.exec(message)?.[1] as Claim | undefined;
}
