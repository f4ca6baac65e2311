// The emulator's Entra ID settings: which issuer and keys it trusts, and the role assignments
// (see rbac.ts). Given as the `entra` option of startEmulator, as `"entra"` in the config file,
// or as a file of their own (--entra FILE). Parsed once, with errors naming the field.
import { readFile } from 'node:fs/promises';
import type { JsonWebKey } from 'node:crypto';
import { invalidConfiguration } from '../errors.js';
import { importKeys, type JwtTrust } from './jwt.js';
import { parseRoleAssignment, type RoleAssignment } from './rbac.js';

export interface EntraOptions {
  /** The `iss` of the tokens to accept, e.g. the local issuer's `https://sts.windows.net/<tenant>/`. */
  issuer: string;
  /** The issuer's public keys (its JWKS `keys`). */
  keys: JsonWebKey[];
  roleAssignments: RoleAssignment[];
  /** Allowance for clock differences on `exp` and `nbf`. Default 300 (Azure's 5 minutes). */
  clockSkewSeconds?: number;
}

export interface Entra {
  readonly trust: JwtTrust;
  readonly roleAssignments: readonly RoleAssignment[];
}

/** The audiences Service Bus accepts on `$cbs`, besides the namespace's own `https://<host>/`. */
export const SERVICE_BUS_AUDIENCES = ['https://servicebus.azure.net', 'https://servicebus.azure.net/'] as const;

/** The audiences ARM accepts. */
export const ARM_AUDIENCES = [
  'https://management.azure.com/',
  'https://management.azure.com',
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
] as const;

const DEFAULT_CLOCK_SKEW_SECONDS = 300;

/** Validates Entra settings (`path` labels the errors: `entra`, or a file name). */
export function parseEntra(value: unknown, path: string): Entra {
  try {
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${path}: expected an object { issuer, keys, roleAssignments }.`);
    const { issuer, keys, roleAssignments, clockSkewSeconds, ...rest } = value as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new Error(`${path}: unknown field '${extra[0]}' (expected issuer, keys, roleAssignments, clockSkewSeconds).`);
    if (typeof issuer !== 'string' || !/^https:\/\/\S+$/.test(issuer)) throw new Error(`${path}.issuer: expected the tokens' iss, an https URL, got ${JSON.stringify(issuer)}.`);
    if (!Array.isArray(roleAssignments)) throw new Error(`${path}.roleAssignments: expected an array of { principalId, role, scope }.`);
    const skew = clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    if (typeof skew !== 'number' || !Number.isInteger(skew) || skew < 0) {
      throw new Error(`${path}.clockSkewSeconds: expected a whole number of seconds, 0 or more, got ${JSON.stringify(clockSkewSeconds)}.`);
    }
    return Object.freeze({
      trust: Object.freeze({ issuer, keys: importKeys(keys, `${path}.keys`), clockSkewMs: skew * 1000 }),
      roleAssignments: Object.freeze(roleAssignments.map((a, i) => Object.freeze(parseRoleAssignment(a, `${path}.roleAssignments[${i}]`)))),
    });
  } catch (e) {
    throw invalidConfiguration((e as Error).message);
  }
}

export async function loadEntraFile(file: string): Promise<Entra> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw invalidConfiguration(`${file}: cannot read the Entra settings (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw invalidConfiguration(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  return parseEntra(json, file);
}
