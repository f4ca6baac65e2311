import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeStateStore, initialState } from '../../src/node-state.js';
import { SlotsCorrupt, TwoSlotFile } from '../../src/two-slot-file.js';
import { removeTempDirs, tempDir } from '../helpers.js';

afterAll(removeTempDirs);

describe('TwoSlotFile', () => {
  it('reads nothing before the first write, then the last record written', () => {
    const file = new TwoSlotFile(join(tempDir('wf-slots-'), 'state'), 'rec');
    expect(file.read()).toBeUndefined();
    file.write('{"n":1}');
    file.write('{"n":2}');
    file.write('{"n":3}');
    expect(new TwoSlotFile(file.dir, 'rec').read()).toBe('{"n":3}');
  });

  it('writes the two slots in turn, so the record before the last write is still whole', () => {
    const file = new TwoSlotFile(tempDir('wf-slots-'), 'rec');
    file.write('first');
    file.write('second');
    const texts = file.paths.map((p) => readFileSync(p, 'utf8'));
    expect(texts.some((t) => t.endsWith('\tfirst\n'))).toBe(true);
    expect(texts.some((t) => t.endsWith('\tsecond\n'))).toBe(true);
  });

  it('a write cut short leaves the record from before it (a damaged slot is passed over)', () => {
    const file = new TwoSlotFile(tempDir('wf-slots-'), 'rec');
    file.write('{"n":1,"pad":"xxxxxxxxxxxxxxxx"}');
    file.write('{"n":2,"pad":"xxxxxxxxxxxxxxxx"}');
    const newest = file.paths.find((p) => readFileSync(p, 'utf8').includes('"n":2'))!;
    // What a write killed half-way leaves: the start of the new line, then older bytes.
    truncateSync(newest, 40);
    expect(new TwoSlotFile(file.dir, 'rec').read()).toBe('{"n":1,"pad":"xxxxxxxxxxxxxxxx"}');
    // A byte changed inside the record fails its checksum just the same.
    writeFileSync(newest, readFileSync(file.paths.find((p) => p !== newest)!, 'utf8').replace('"n":1', '"n":9').replace('"generation":1', '"generation":5'));
    expect(new TwoSlotFile(file.dir, 'rec').read()).toBe('{"n":1,"pad":"xxxxxxxxxxxxxxxx"}');
  });

  it('after a damaged write, the next write keeps the last whole record', () => {
    const file = new TwoSlotFile(tempDir('wf-slots-'), 'rec');
    file.write('one');
    file.write('two');
    const newest = file.paths.find((p) => readFileSync(p, 'utf8').includes('\ttwo'))!;
    truncateSync(newest, 10);
    const reopened = new TwoSlotFile(file.dir, 'rec');
    expect(reopened.read()).toBe('one');
    reopened.write('three'); // into the damaged slot, not over `one`
    expect(readFileSync(newest, 'utf8')).toContain('\tthree\n');
    expect(new TwoSlotFile(file.dir, 'rec').read()).toBe('three');
  });

  it('names the damage when no slot is valid', () => {
    const dir = tempDir('wf-slots-');
    writeFileSync(join(dir, 'rec.0'), 'garbage');
    expect(() => new TwoSlotFile(dir, 'rec').read()).toThrow(SlotsCorrupt);
    expect(() => new TwoSlotFile(dir, 'rec').read()).toThrow(/rec\.0 is damaged/);
  });

  it('a shorter record truncates its slot (no stale tail for a reader to see)', () => {
    const file = new TwoSlotFile(tempDir('wf-slots-'), 'rec');
    file.write('x'.repeat(500));
    file.write('y');
    file.write('z');
    const sizes = file.paths.map((p) => statSync(p).size);
    expect(Math.max(...sizes)).toBeLessThan(100);
  });

  it('refuses a record of more than one line', () => {
    expect(() => new TwoSlotFile(tempDir('wf-slots-'), 'rec').write('a\nb')).toThrow(/one line/);
  });

  it('kill -9 of a writer at random moments always leaves the last record written or the one in flight', async () => {
    // A real process rewrites the record as fast as it can and prints each generation once
    // its write returned; it is killed at a random moment, 20 times.
    const writer = fileURLToPath(new URL('./two-slot-writer.ts', import.meta.url));
    for (let round = 0; round < 20; round++) {
      const dir = tempDir('wf-slots-kill-');
      const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let confirmed = 0;
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => (confirmed = Number(line)));
      await new Promise<void>((resolve) => lines.once('line', () => resolve()));
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 50));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const record = new TwoSlotFile(dir, 'rec').read();
      expect(record).toBeDefined();
      const n = (JSON.parse(record!) as { n: number; pad: string }).n;
      // Printed lines can trail the writes: the record is at least the last confirmed one.
      expect(n).toBeGreaterThanOrEqual(confirmed);
    }
  });
});

describe('NodeStateStore', () => {
  it('reads the state of an agent before the two slots (node-state.json) and moves it into them', () => {
    const dir = tempDir('wf-state-');
    const old = { ...initialState('n1', 't', new Date('2026-01-01T00:00:00Z')), state: 'drained' as const };
    writeFileSync(join(dir, 'node-state.json'), `${JSON.stringify(old)}\n`);
    const store = new NodeStateStore(dir);
    expect(store.load('n1', 't', new Date())).toEqual(old);
    store.save(old);
    expect(existsSync(join(dir, 'node-state.json'))).toBe(false);
    expect(new NodeStateStore(dir).read()).toEqual(old);
  });

  it('refuses damaged slots with an error that names them', () => {
    const dir = tempDir('wf-state-');
    writeFileSync(join(dir, 'node-state.1'), '{"generation":1,"sha256":"00"}\t{}\n');
    expect(() => new NodeStateStore(dir).read()).toThrow(/node-state\.1 is damaged.*move/);
  });
});
