// The directories the agent writes in, and the one it shares with the workers (DESIGN "PID files").
//
// The agent runs as root and workers are untrusted, so it creates, replaces and removes files
// only in directories of its own: the state directory and the intake directory. "Its own" is
// checked the way OpenSSH's StrictModes checks a home directory: the directory is owned by the
// agent's effective uid and writable by nobody else, and no directory above it can be renamed
// or replaced by another user (each is owned by root or by the agent, and group/world-writable
// only with the sticky bit, like /tmp). A directory that fails is a configuration error: the
// agent refuses to start and names it.
//
// The PID directory is shared: workers write their files there. It may be world-writable only
// with the sticky bit, so that no worker can remove or replace another's file.

import { type Stats, lstatSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { AgentError, errnoCode } from './errors.js';

const S_IWGRP = 0o020;
const S_IWOTH = 0o002;
const S_ISVTX = 0o1000;

function euid(): number {
  return process.geteuid?.() ?? 0;
}

/**
 * Creates `dir` (0755) if missing and checks that it is the agent's own. `what` names it in the
 * error, e.g. `state directory (WORKFORCE_STATE_DIR / --state-dir)`.
 */
export function ensureOwnDir(dir: string, what: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const me = euid();
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw unsafe(dir, what, st.isSymbolicLink() ? 'it is a symlink' : 'it is not a directory');
  if (st.uid !== me) throw unsafe(dir, what, `it is owned by uid ${st.uid}, not by the agent (uid ${me})`);
  if ((st.mode & (S_IWGRP | S_IWOTH)) !== 0) {
    throw unsafe(dir, what, `it is writable by ${(st.mode & S_IWOTH) !== 0 ? 'every user' : 'its group'} (mode ${modeText(st)}); chmod go-w it`);
  }
  for (let up = dirname(dir); ; up = dirname(up)) {
    const parent = statSync(up);
    if (parent.uid !== 0 && parent.uid !== me) {
      throw unsafe(dir, what, `${up} above it is owned by uid ${parent.uid}, who could replace it`);
    }
    if ((parent.mode & (S_IWGRP | S_IWOTH)) !== 0 && (parent.mode & S_ISVTX) === 0) {
      throw unsafe(dir, what, `${up} above it is writable by other users without the sticky bit (mode ${modeText(parent)}), who could replace it`);
    }
    if (up === dirname(up)) return;
  }
}

/** Refuses a PID directory that any user can write without the sticky bit. Missing is fine. */
export function checkPidDir(dir: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  const what = 'PID directory (WORKFORCE_PID_DIR / --pid-dir)';
  if (!st.isDirectory()) throw unsafe(dir, what, 'it is not a directory');
  if ((st.mode & S_IWOTH) !== 0 && (st.mode & S_ISVTX) === 0) {
    throw unsafe(dir, what, `every user can write it and it has no sticky bit (mode ${modeText(st)}), so any user can replace another's PID file; chmod +t it (or make it group-writable for the workers' group)`);
  }
}

function unsafe(dir: string, what: string, why: string): AgentError {
  return new AgentError('DirectoryUnsafe', `${what} ${dir} is unsafe: ${why}`);
}

function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}
