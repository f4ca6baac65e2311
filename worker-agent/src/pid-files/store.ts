// Reading and writing the PID directory.
//
// Anyone who can write the directory can put anything there, so a file is opened without
// following symlinks and without blocking (a FIFO would block the open), must be a regular file
// with one link (a hard link could name a file of another user) of at most 64 KiB, and is read
// from the descriptor that was checked. Anything else is one invalid entry, never a failed scan.

import { type Stats, closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../common/atomic-file.js';
import { errnoCode } from '../common/errors.js';
import { type ContractError, fail } from '../contract/result.js';
import {
  PID_FILE_INVALID,
  PID_FILE_SUFFIX,
  type PidFileContent,
  type PidFileRecord,
  parsePidFile,
  serializePidFile,
  workerIdFromFileName,
} from './format.js';

/** Larger files are invalid: a PID file is one short JSON object. */
export const PID_FILE_MAX_BYTES = 64 * 1024;

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface PidFileEntry {
  path: string;
  /** From the file name (`<workerId>.pid`); JSON files carry it too. */
  workerId: string;
  content: PidFileContent;
  /** Last write, ms since the epoch: legacy verification compares it with the process start. */
  mtimeMs: number;
  /** Identity of this version of the file, so a rewritten file is never removed by mistake. */
  ino: number;
  /** Owner of the file: root, or the user of the process it names (verify.ts). */
  uid: number;
}

export interface InvalidPidFile {
  path: string;
  error: ContractError;
  /** Identity of this version of the entry (to log it once), when it could be opened. */
  version?: string;
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

/** Reads one PID file; undefined if it vanished, an InvalidPidFile if it is not one. */
export function readPidFile(path: string): PidFileEntry | InvalidPidFile | undefined {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return undefined;
    return invalid(path, code === 'ELOOP' ? 'a symlink (PID files are read without following links)' : `cannot be opened (${code ?? (err as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    const version = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    if (!st.isFile()) return invalid(path, `not a regular file (${fileKind(st)})`, version);
    if (st.nlink !== 1) return invalid(path, `a file with ${st.nlink} hard links`, version);
    if (st.size > PID_FILE_MAX_BYTES) return invalid(path, `${st.size} bytes, larger than ${PID_FILE_MAX_BYTES}`, version);
    const buffer = Buffer.alloc(st.size + 1);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const parsed = parsePidFile(buffer.toString('utf8', 0, length));
    if (!parsed.ok) return { path, error: parsed.error, version };
    const fileName = path.slice(path.lastIndexOf('/') + 1);
    return { path, workerId: workerIdFromFileName(fileName), content: parsed.value, mtimeMs: st.mtimeMs, ino: st.ino, uid: st.uid };
  } catch (err) {
    return invalid(path, `cannot be read (${errnoCode(err) ?? (err as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

function invalid(path: string, why: string, version?: string): InvalidPidFile {
  return { path, error: fail(PID_FILE_INVALID, 'file', why).error, ...(version !== undefined ? { version } : {}) };
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
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
    if (lstatSync(entry.path).ino !== entry.ino) return false;
    unlinkSync(entry.path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Removes a worker's own PID file if it still names `pid` (used at worker exit). */
export function removeOwnPidFile(path: string, pid: number): void {
  // Read like the agent reads it: whatever another writer of the directory put there cannot block the exit.
  const entry = readPidFile(path);
  if (entry === undefined || 'error' in entry) return;
  const filePid = entry.content.format === 'json' ? entry.content.record.pid : entry.content.pid;
  if (filePid !== pid) return;
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
