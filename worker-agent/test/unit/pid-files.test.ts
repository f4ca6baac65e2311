import { spawn } from 'node:child_process';
import { chownSync, existsSync, linkSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parsePidFile,
  readPidDir,
  resolveSignals,
  scanWorkers,
  verifyEntry,
  writePidFile,
  removeIfUnchanged,
  type PidFileEntry,
  PID_FILE_MAX_BYTES,
} from '../../src/pid-files/index.js';
import { bootId, readProcStat } from '../../src/common/proc.js';
import { removeTempDirs, tempDir } from '../helpers.js';

afterAll(removeTempDirs);

function startSleeper() {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  return { pid: child.pid as number, stop: () => child.kill('SIGKILL') };
}

function entryOf(dir: string, workerId: string): PidFileEntry {
  const found = readPidDir(dir).entries.find((e) => e.workerId === workerId);
  if (!found) throw new Error(`no entry ${workerId}`);
  return found;
}

describe('PID file format', () => {
  it('reads legacy integer files and JSON files, naming a bad field', () => {
    expect(parsePidFile('4242')).toEqual({ ok: true, value: { format: 'legacy', pid: 4242 } });
    expect(parsePidFile('4242\n')).toMatchObject({ ok: true });
    expect(parsePidFile('{"pid": 1, "startTime": 2, "bootId": "b", "topic": "t", "workerId": "w", "signals": {"graceful-downscale": "SIGKILL"}}')).toMatchObject({
      ok: false,
      error: { field: 'signals.graceful-downscale' },
    });
    expect(parsePidFile('{"pid": 1}')).toMatchObject({ ok: false, error: { field: 'startTime' } });
    expect(parsePidFile('hello')).toMatchObject({ ok: false, error: { field: 'body' } });
  });

  it('applies the documented defaults and the ai4s-jobq convention', () => {
    const json = parsePidFile(JSON.stringify({ pid: 1, startTime: 2, bootId: 'b', topic: 't', workerId: 'w', signals: {} }));
    if (!json.ok) throw new Error('parse');
    expect(resolveSignals(json.value, true)).toEqual({ 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': null, resume: null });
    expect(resolveSignals({ format: 'legacy', pid: 1 }, true)).toEqual({ 'graceful-downscale': 'SIGUSR2', 'do-not-accept-new-tasks': 'SIGUSR1', resume: null });
    expect(resolveSignals({ format: 'legacy', pid: 1 }, false)).toEqual({ 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': null, resume: null });
  });

  it('reads signals.resume: optional, a catchable signal name or null, never defaulted', () => {
    const file = (resume: unknown) => JSON.stringify({ pid: 1, startTime: 2, bootId: 'b', topic: 't', workerId: 'w', signals: { 'do-not-accept-new-tasks': 'SIGUSR1', resume } });
    const declared = parsePidFile(file('SIGCONT'));
    if (!declared.ok) throw new Error('parse');
    expect(declared.value).toMatchObject({ record: { signals: { resume: 'SIGCONT' } } });
    expect(resolveSignals(declared.value, true).resume).toBe('SIGCONT');
    const none = parsePidFile(file(null));
    if (!none.ok) throw new Error('parse');
    expect(resolveSignals(none.value, true).resume).toBeNull();
    for (const bad of ['SIGKILL', 'SIGSTOP', 'SIGNOPE', 15]) {
      expect(parsePidFile(file(bad))).toMatchObject({ ok: false, error: { code: 'PidFileInvalid', field: 'signals.resume' } });
    }
  });

  it('writes atomically (no temporary file left) and removes only the version it read', () => {
    const dir = tempDir();
    const record = { pid: 1, startTime: 2, bootId: 'b', topic: 't', workerId: 'w1', signals: {} };
    const path = writePidFile(dir, record);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(record);
    const old = entryOf(dir, 'w1');
    writePidFile(dir, { ...record, pid: 3 }); // the worker restarted under the same id
    expect(removeIfUnchanged(old)).toBe(false);
    expect(existsSync(path)).toBe(true);
    expect(removeIfUnchanged(entryOf(dir, 'w1'))).toBe(true);
    expect(readPidDir(dir)).toEqual({ entries: [], invalid: [] });
  });
});

describe('reading the shared directory', () => {
  it('makes a symlink, a hard link and a file over 64 KiB invalid entries without reading through them', () => {
    const dir = tempDir();
    const elsewhere = join(tempDir(), 'legacy.pid');
    writeFileSync(elsewhere, String(process.pid));
    symlinkSync(elsewhere, join(dir, 'link.pid'));
    linkSync(elsewhere, join(dir, 'hard.pid'));
    writeFileSync(join(dir, 'big.pid'), ' '.repeat(PID_FILE_MAX_BYTES) + String(process.pid));
    writeFileSync(join(dir, 'ok.pid'), String(process.pid));
    const listing = readPidDir(dir);
    expect(listing.entries.map((e) => e.workerId)).toEqual(['ok']);
    const why = Object.fromEntries(listing.invalid.map((i) => [i.path.split('/').pop(), i.error.message]));
    expect(why).toEqual({
      'link.pid': 'a symlink (PID files are read without following links)',
      'hard.pid': 'a file with 2 hard links',
      'big.pid': `${PID_FILE_MAX_BYTES + String(process.pid).length} bytes, larger than ${PID_FILE_MAX_BYTES}`,
    });
  });

  // Root only: the file must belong to another user than the process it names.
  it.runIf(process.getuid?.() === 0)('calls a file that its owner may not claim untrusted', () => {
    const dir = tempDir();
    const stat = readProcStat(process.pid)!;
    writePidFile(dir, { pid: process.pid, startTime: stat.startTime, bootId: bootId(), topic: 't', workerId: 'w', signals: {} });
    expect(verifyEntry(entryOf(dir, 'w')).status).toBe('verified'); // root may claim any process
    chownSync(join(dir, 'w.pid'), 65534, 65534);
    const v = verifyEntry(entryOf(dir, 'w'));
    expect(v).toEqual({ status: 'untrusted', reason: expect.stringMatching(/owned by uid 65534, process \d+ runs as uid 0 \(effective 0\)/) });
  });
});

describe('verification before signalling', () => {
  it('verifies a live process whose start time and boot id match', () => {
    const dir = tempDir();
    const sleeper = startSleeper();
    try {
      const stat = readProcStat(sleeper.pid)!;
      writePidFile(dir, { pid: sleeper.pid, startTime: stat.startTime, bootId: bootId(), topic: 't', workerId: 'w', signals: {} });
      expect(verifyEntry(entryOf(dir, 'w')).status).toBe('verified');
    } finally {
      sleeper.stop();
    }
  });

  it('calls a start-time mismatch a reused PID (stale)', () => {
    const dir = tempDir();
    const sleeper = startSleeper();
    try {
      const stat = readProcStat(sleeper.pid)!;
      writePidFile(dir, { pid: sleeper.pid, startTime: stat.startTime - 1, bootId: bootId(), topic: 't', workerId: 'w', signals: {} });
      const v = verifyEntry(entryOf(dir, 'w'));
      expect(v.status).toBe('stale');
      expect(v.status === 'stale' && v.reason).toMatch(/PID reused/);
    } finally {
      sleeper.stop();
    }
  });

  it('calls a file from another boot, or of a dead process, gone', () => {
    const dir = tempDir();
    const sleeper = startSleeper();
    try {
      const stat = readProcStat(sleeper.pid)!;
      writePidFile(dir, { pid: sleeper.pid, startTime: stat.startTime, bootId: 'another-boot', topic: 't', workerId: 'a', signals: {} });
      writePidFile(dir, { pid: 2 ** 22, startTime: 1, bootId: bootId(), topic: 't', workerId: 'b', signals: {} });
      expect(verifyEntry(entryOf(dir, 'a')).status).toBe('gone');
      expect(verifyEntry(entryOf(dir, 'b')).status).toBe('gone');
    } finally {
      sleeper.stop();
    }
  });

  it('trusts a legacy file only if the process started before the file was written', async () => {
    const dir = tempDir();
    const sleeper = startSleeper();
    try {
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(join(dir, 'fresh.pid'), String(sleeper.pid));
      expect(verifyEntry(entryOf(dir, 'fresh')).status).toBe('verified');
      const older = join(dir, 'older.pid');
      writeFileSync(older, String(sleeper.pid));
      const anHourAgo = new Date(Date.now() - 3600_000);
      utimesSync(older, anHourAgo, anHourAgo); // written before this process existed: PID reused
      const v = verifyEntry(entryOf(dir, 'older'));
      expect(v.status).toBe('stale');
      expect(v.status === 'stale' && v.reason).toMatch(/after the legacy file was written/);
    } finally {
      sleeper.stop();
    }
  });

  it('sorts workers by topic: legacy files belong to every topic', () => {
    const dir = tempDir();
    writePidFile(dir, { pid: process.pid, startTime: readProcStat(process.pid)!.startTime, bootId: bootId(), topic: 'mine', workerId: 'a', signals: {} });
    writePidFile(dir, { pid: process.pid, startTime: readProcStat(process.pid)!.startTime, bootId: bootId(), topic: 'other', workerId: 'b', signals: {} });
    writeFileSync(join(dir, 'c.pid'), String(process.pid));
    writeFileSync(join(dir, 'd.pid'), 'garbage');
    writeFileSync(join(dir, 'not-a-pid-file.txt'), '1');
    const scan = scanWorkers(dir, { topic: 'mine', legacyConvention: true });
    expect(scan.mine.map((w) => w.workerId)).toEqual(['a', 'c']);
    expect(scan.others.map((w) => w.workerId)).toEqual(['b']);
    expect(scan.invalid.map((i) => i.path)).toEqual([join(dir, 'd.pid')]);
  });
});
