// What binding off loopback exposes. On loopback only this machine's users reach the emulator,
// which is what its two conveniences assume: the development SAS key is published in every
// emulator's documentation, and the ARM endpoint accepts any bearer token (unless Entra ID
// settings are given, with which it validates tokens and roles). On another interface
// either one lets anyone who reaches the port read, send and delete, so both are refused there
// unless the operator asks for it explicitly (`--allow-insecure-remote`), and then warned about.
import { isIP } from 'node:net';
import type { SasKey } from './auth/sas.js';

/** The development SAS key, the same as the official emulator's: public knowledge. */
export const DEVELOPMENT_KEY_NAME = 'RootManageSharedAccessKey';
export const DEVELOPMENT_KEY = 'SAS_KEY_VALUE';

/** Whether `host` is a loopback name or address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/**
 * What listening on `host` would expose to other machines: one sentence per hole, each naming
 * the way to close it. Empty on loopback, or with own keys and the ARM endpoint off.
 */
export function insecureExposures(host: string, keys: readonly SasKey[], armAcceptsAnyToken: boolean): string[] {
  if (isLoopback(host)) return [];
  const found: string[] = [];
  if (keys.some((k) => k.key === DEVELOPMENT_KEY)) {
    found.push(`the development SAS key '${DEVELOPMENT_KEY}' is public: give your own with --sas-key NAME=KEY`);
  }
  if (armAcceptsAnyToken) found.push('the ARM endpoint accepts any bearer token: turn it off with --arm-port off, or validate tokens with --entra FILE');
  return found;
}

/** The refusal for `host` (given as `source`, a flag or variable) and what it would expose. */
export function exposureRefusal(source: string, host: string, exposures: readonly string[]): string {
  return `${source}: '${host}' is not a loopback address, and ${exposures.join('; ')} (or add --allow-insecure-remote to expose them anyway).`;
}
