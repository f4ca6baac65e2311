// The intake flag (DESIGN "Intake stop"): a file whose presence means "take no new task".
// Worker libraries check it before each task; `workforce-agent run` passes its path in
// WORKFORCE_INTAKE_FLAG. The agent writes and removes only its own flag, in its own intake
// directory: never a path a worker named.

import { existsSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { ensureOwnDir } from './directories.js';
import { errnoCode } from './errors.js';

export const INTAKE_DIR = 'intake directory (the directory of WORKFORCE_INTAKE_FLAG / --intake-flag)';

export interface IntakeFlagContent {
  drainId?: string;
  messageId?: string;
  reason?: string;
  at: string;
}

/** Creates or checks the flag's directory (the agent's own; DirectoryUnsafe otherwise). */
export function ensureIntakeDir(path: string): void {
  ensureOwnDir(dirname(path), INTAKE_DIR);
}

export function writeIntakeFlag(path: string, content: IntakeFlagContent): void {
  ensureIntakeDir(path);
  writeFileAtomic(path, `${JSON.stringify(content)}\n`);
}

/** Removes the flag; true if it was there. */
export function removeIntakeFlag(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

export function isIntakeStopped(path: string): boolean {
  return existsSync(path);
}
