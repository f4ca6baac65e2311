// Atomic replacement of small files: write a temporary sibling, then rename over the target.
// No fsync: the files must survive a crash of the process, not of the kernel (a kernel crash
// takes the workers with it), and a write that reached the page cache survives the process.

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';

let counter = 0;

export function writeFileAtomic(path: string, data: string, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++counter}.tmp`);
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true });
}
