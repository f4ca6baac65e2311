// Whether a presented key is one of the host's keys. `===` returns at the first character that
// differs, so how long it takes tells a caller how much of a guess was right; comparing SHA-256
// digests (always 32 bytes, whatever the lengths) with `timingSafeEqual` takes the same time for
// every guess, and every accepted key is compared, so the time does not tell which one matched.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** Whether `presented` equals one of `accepted`, in time that depends on neither. */
export function keyMatches(presented: string, accepted: readonly string[]): boolean {
  const mine = digest(presented);
  let found = false;
  for (const key of accepted) found = timingSafeEqual(mine, digest(key)) || found;
  return found;
}
