// A small record rewritten in place, that survives a crash of the process at any point: two
// slot files written in turn, each holding one line
//
//   {"generation":7,"sha256":"…"}<TAB><record>
//
// The valid slot with the higher generation holds the record. A write always goes to the other
// slot, so a write cut short by a crash leaves a slot that fails its checksum and, next to it,
// the record from before the write: the same as a crash just before the write.
//
// Why not a temporary file renamed over the old one: on ext4 a rename that replaces a file
// starts writeback of the new one (auto_da_alloc), 0.4–0.8 ms on this kind of machine, and the
// agent writes its state on the hot path, between receiving a message and committing to it.
// Rewriting an existing file in place reaches the page cache in tens of microseconds. No
// fsync: the record must survive the process, not the kernel (see atomic-file.ts).

import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from './atomic-file.js';
import { errnoCode } from './errors.js';

interface Slot {
  path: string;
  /** Generation of the valid record in it; 0 when empty or invalid. */
  generation: number;
  /** Bytes in the file (a shorter record truncates it). */
  size: number;
}

export class SlotsCorrupt extends Error {
  override readonly name = 'SlotsCorrupt';
}

export class TwoSlotFile {
  readonly paths: readonly [string, string];
  private slots: [Slot, Slot] | undefined;

  constructor(
    readonly dir: string,
    name: string,
  ) {
    this.paths = [join(dir, `${name}.0`), join(dir, `${name}.1`)];
  }

  /** The newest record; undefined if none was ever written. Throws SlotsCorrupt if no slot is valid but one is not empty. */
  read(): string | undefined {
    const found = this.paths.map((path) => readSlot(path));
    this.slots = [found[0]!.slot, found[1]!.slot];
    const newest = found.reduce((a, b) => (b.slot.generation > a.slot.generation ? b : a));
    if (newest.record !== undefined) return newest.record;
    const damaged = found.find((f) => f.slot.size > 0);
    if (damaged) throw new SlotsCorrupt(`${damaged.slot.path} is damaged and no other copy is valid`);
    return undefined;
  }

  /** Replaces the record: writes the slot that does not hold the newest one. */
  write(record: string): void {
    if (record.includes('\n')) throw new Error('a slot record is one line');
    if (this.slots === undefined) {
      try {
        this.read();
      } catch (err) {
        if (!(err instanceof SlotsCorrupt)) throw err;
      }
    }
    const slots = this.slots!;
    const [newest, other] = slots[0].generation >= slots[1].generation ? [slots[0], slots[1]] : [slots[1], slots[0]];
    const generation = newest.generation + 1;
    const line = Buffer.from(`${JSON.stringify({ generation, sha256: sha256(record) })}\t${record}\n`);
    if (other.size === 0 && newest.size === 0) ensureDir(this.dir);
    writeInPlace(other, line);
    other.generation = generation;
  }
}

function writeInPlace(slot: Slot, line: Buffer): void {
  let fd: number;
  try {
    fd = openSync(slot.path, 'r+');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    // Created whole (rename onto a name that does not exist yet: no writeback), so a crash never leaves a half-written first record.
    writeFileAtomic(slot.path, line.toString('utf8'));
    slot.size = line.length;
    return;
  }
  try {
    for (let at = 0; at < line.length; ) at += writeSync(fd, line, at, line.length - at, at);
    if (slot.size > line.length) ftruncateSync(fd, line.length);
    slot.size = line.length;
  } finally {
    closeSync(fd);
  }
}

function readSlot(path: string): { slot: Slot; record?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { slot: { path, generation: 0, size: 0 } };
    throw err;
  }
  const slot: Slot = { path, generation: 0, size: Buffer.byteLength(text) };
  const end = text.indexOf('\n');
  const tab = text.indexOf('\t');
  if (end < 0 || tab < 0 || tab > end) return { slot };
  const record = text.slice(tab + 1, end);
  let header: { generation?: unknown; sha256?: unknown };
  try {
    header = JSON.parse(text.slice(0, tab)) as typeof header;
  } catch {
    return { slot };
  }
  if (!Number.isSafeInteger(header.generation) || (header.generation as number) < 1 || header.sha256 !== sha256(record)) return { slot };
  slot.generation = header.generation as number;
  return { slot, record };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
