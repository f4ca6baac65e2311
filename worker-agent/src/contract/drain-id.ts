// The drain id: the Durable instance id of a drain, echoed by agents in their reports, and the
// prefix of its control messages' ids (`<drainId>/<n>`). It ends up in the URL paths of the
// durable management API, so it is held to characters that mean nothing in a URL, by every
// parser (control message, report, HTTP, CLI) with this one pattern.

export const DRAIN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The rule in words, for error messages. */
export const DRAIN_ID_RULE = '1-64 letters, digits, ".", "-" or "_", starting with a letter or digit';

export function isDrainId(value: unknown): value is string {
  return typeof value === 'string' && DRAIN_ID_PATTERN.test(value);
}

/** The id of the `n`th control message of a drain (n from 1). */
export function drainMessageId(drainId: string, n: number): string {
  return `${drainId}/${n}`;
}

/** `n` when `messageId` is `<drainId>/<n>` (n a whole number from 1, no leading zeros); else undefined. */
export function drainMessageNumber(drainId: string, messageId: string): number | undefined {
  const prefix = `${drainId}/`;
  if (!messageId.startsWith(prefix)) return undefined;
  const digits = messageId.slice(prefix.length);
  return /^[1-9]\d{0,8}$/.test(digits) ? Number(digits) : undefined;
}
