// Atomic replacement of small files: write a temporary sibling, then rename over the target.
//
// The temporary file gets a random name and is created exclusively without following symlinks
// (O_CREAT|O_EXCL|O_NOFOLLOW): a name planted in advance, as a file or a symlink, fails the
// write instead of redirecting it. rename() replaces a symlink at the target, never its target.
//
// No fsync by default: most files must survive a crash of the process, not of the kernel (a
// kernel crash takes the workers with it), and a write that reached the page cache survives the
// process. `durable` syncs the file and then its directory, for the one write that records a
// commit (node-state.ts).

import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0644). */
  mode?: number;
  /** fsync the file before the rename and the directory after it. */
  durable?: boolean;
}

const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export function writeFileAtomic(path: string, data: string, options: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = openSync(tmp, CREATE_EXCLUSIVE, options.mode ?? 0o644);
  try {
    try {
      writeSync(fd, data);
      if (options.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (options.durable) syncDir(dir);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true });
}
