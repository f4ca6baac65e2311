// Reading and writing the PID directory.

import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../atomic-file.js';
import { errnoCode } from '../errors.js';
import type { ContractError } from '../contract/result.js';
import {
  PID_FILE_SUFFIX,
  type PidFileContent,
  type PidFileRecord,
  parsePidFile,
  serializePidFile,
  workerIdFromFileName,
} from './format.js';

export interface PidFileEntry {
  path: string;
  /** From the file name (`<workerId>.pid`); JSON files carry it too. */
  workerId: string;
  content: PidFileContent;
  /** Last write, ms since the epoch: legacy verification compares it with the process start. */
  mtimeMs: number;
  /** Identity of this version of the file, so a rewritten file is never removed by mistake. */
  ino: number;
}

export interface InvalidPidFile {
  path: string;
  error: ContractError;
}

export interface PidDirListing {
  entries: PidFileEntry[];
  invalid: InvalidPidFile[];
}

export function pidFilePath(dir: string, workerId: string): string {
  return join(dir, `${workerId}${PID_FILE_SUFFIX}`);
}

/** Reads every `*.pid` file; a missing directory is an empty one. */
export function readPidDir(dir: string): PidDirListing {
  const listing: PidDirListing = { entries: [], invalid: [] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return listing;
    throw err;
  }
  for (const name of names) {
    if (!name.endsWith(PID_FILE_SUFFIX) || name.startsWith('.')) continue;
    const path = join(dir, name);
    const entry = readPidFile(path);
    if (entry === undefined) continue; // removed while we listed
    if ('error' in entry) listing.invalid.push(entry);
    else listing.entries.push(entry);
  }
  return listing;
}

export function readPidFile(path: string): PidFileEntry | InvalidPidFile | undefined {
  let text: string;
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = parsePidFile(text);
  if (!parsed.ok) return { path, error: parsed.error };
  const fileName = path.slice(path.lastIndexOf('/') + 1);
  return { path, workerId: workerIdFromFileName(fileName), content: parsed.value, mtimeMs: st.mtimeMs, ino: st.ino };
}

export function writePidFile(dir: string, record: PidFileRecord): string {
  ensureDir(dir);
  const path = pidFilePath(dir, record.workerId);
  writeFileAtomic(path, serializePidFile(record));
  return path;
}

/**
 * Removes the file only if it is still the version that was read: a worker that restarted
 * under the same id has replaced it (atomic rename → new inode) and keeps its file.
 */
export function removeIfUnchanged(entry: Pick<PidFileEntry, 'path' | 'ino'>): boolean {
  try {
    if (statSync(entry.path).ino !== entry.ino) return false;
    unlinkSync(entry.path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Removes a worker's own PID file if it still names `pid` (used at worker exit). */
export function removeOwnPidFile(path: string, pid: number): void {
  try {
    const parsed = parsePidFile(readFileSync(path, 'utf8'));
    const filePid = parsed.ok ? (parsed.value.format === 'json' ? parsed.value.record.pid : parsed.value.pid) : undefined;
    if (filePid === pid) unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
