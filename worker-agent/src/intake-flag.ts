// The intake flag (DESIGN "Intake stop"): a file whose presence means "take no new task".
// Worker libraries check it before each task; `workforce-agent run` passes its path in
// WORKFORCE_INTAKE_FLAG.

import { existsSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDir, writeFileAtomic } from './atomic-file.js';
import { errnoCode } from './errors.js';

export interface IntakeFlagContent {
  drainId?: string;
  messageId?: string;
  reason?: string;
  at: string;
}

export function writeIntakeFlag(path: string, content: IntakeFlagContent): void {
  ensureDir(dirname(path));
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
