// The agent's own directories and the shared PID directory (src/common/directories.ts).
import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPidDir, ensureOwnDir } from '../../src/common/directories.js';
import { removeTempDirs, tempDir } from '../helpers.js';

afterAll(removeTempDirs);

const WHAT = 'intake directory';

describe('ensureOwnDir', () => {
  it('creates the directory 0755 and accepts it, under a sticky world-writable ancestor like /tmp', () => {
    const base = tempDir();
    chmodSync(base, 0o1777);
    const dir = join(base, 'a', 'intake');
    ensureOwnDir(dir, WHAT);
    expect(statSync(dir).mode & 0o7777).toBe(0o755);
    ensureOwnDir(dir, WHAT); // idempotent
  });

  it('refuses a symlink, a group-writable directory and a writable ancestor without sticky bit, naming the directory', () => {
    const base = tempDir();
    const real = join(base, 'real');
    mkdirSync(real, { mode: 0o755 });
    symlinkSync(real, join(base, 'link'));
    expect(() => ensureOwnDir(join(base, 'link'), WHAT)).toThrow(`${WHAT} ${join(base, 'link')} is unsafe: it is a symlink`);
    chmodSync(real, 0o775);
    expect(() => ensureOwnDir(real, WHAT)).toThrow(/writable by its group \(mode 0775\)/);
    chmodSync(real, 0o755);
    chmodSync(base, 0o777);
    expect(() => ensureOwnDir(real, WHAT)).toThrow(`${base} above it is writable by other users without the sticky bit (mode 0777)`);
  });

  // Root only: chown to another user.
  it.runIf(process.getuid?.() === 0)('refuses a directory, or a directory above it, owned by another user', () => {
    const base = tempDir();
    const dir = join(base, 'mine', 'intake');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chownSync(dir, 65534, 65534);
    expect(() => ensureOwnDir(dir, WHAT)).toThrow(/owned by uid 65534, not by the agent \(uid 0\)/);
    chownSync(dir, 0, 0);
    chownSync(join(base, 'mine'), 65534, 65534);
    expect(() => ensureOwnDir(dir, WHAT)).toThrow(`${join(base, 'mine')} above it is owned by uid 65534, who could replace it`);
  });
});

describe('checkPidDir', () => {
  it('accepts a missing directory, 1777 and 0775; refuses 0777 and a file', () => {
    const base = tempDir();
    const dir = join(base, 'pids');
    checkPidDir(dir);
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    checkPidDir(dir);
    chmodSync(dir, 0o775);
    checkPidDir(dir);
    chmodSync(dir, 0o777);
    expect(() => checkPidDir(dir)).toThrow(/every user can write it and it has no sticky bit \(mode 0777\)/);
    expect(() => checkPidDir(join(import.meta.dirname, 'directories.test.ts'))).toThrow(/it is not a directory/);
  });
});
