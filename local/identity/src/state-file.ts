// An issuer kept across restarts: its tenant, signing key and principals (ids and secrets) in one
// JSON file, so that a process configured from one run (IDENTITY_HEADER, AZURE_CLIENT_ID) and a
// token minted before a restart keep working after it. The file holds the key that signs every
// principal's tokens and each principal's secret: it is written mode 0600, in a directory of mode
// 0700, and replaced whole (written aside, then renamed), never half written.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IssuerState } from './issuer.js';

/** The saved state, or undefined when there is no file yet; a file that is not one is an error naming it. */
export async function readIssuerState(file: string): Promise<IssuerState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: cannot read the issuer's state (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}); remove it to start with new identities`);
  }
  return parseState(json, file);
}

export async function writeIssuerState(file: string, state: IssuerState): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await chmod(dirname(file), 0o700);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}

function parseState(json: unknown, file: string): IssuerState {
  const bad = (what: string) => new Error(`${file}: ${what}; remove the file to start with new identities`);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad('expected an object { tenantId, signingKey, principals }');
  const { tenantId, signingKey, principals } = json as Record<string, unknown>;
  if (typeof tenantId !== 'string' || tenantId === '') throw bad('tenantId: expected a string');
  if (typeof signingKey !== 'string' || !signingKey.includes('PRIVATE KEY')) throw bad('signingKey: expected a PEM private key');
  if (!Array.isArray(principals)) throw bad('principals: expected an array');
  principals.forEach((p: unknown, i) => {
    for (const field of ['name', 'clientId', 'objectId', 'secret']) {
      const v = (p as Record<string, unknown> | null)?.[field];
      if (typeof v !== 'string' || v === '') throw bad(`principals[${i}].${field}: expected a non-empty string`);
    }
  });
  return { tenantId, signingKey, principals: principals as IssuerState['principals'] };
}
