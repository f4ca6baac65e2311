// isoString stands in for Date#toISOString in the agent's process (cli.ts): it must give the
// native method's string, and its errors, for every date.
import { expect, it } from 'vitest';
import { isoString } from '../../src/log.js';

const native = Date.prototype.toISOString;

it('formats every date as toISOString does', () => {
  const times = [0, -1, 1, Date.UTC(2026, 10, 26, 2, 3, 4, 5), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), Date.UTC(0, 0, 1) - 86_400_000 * 366, -62_198_755_200_000, -62_167_219_200_001, 8.64e15, -8.64e15];
  for (let t = -8.64e15; t <= 8.64e15; t += 8.64e15 / 997 + 12_345) times.push(Math.round(t));
  for (const t of times) {
    const d = new Date(t);
    expect(isoString(d)).toBe(native.call(d));
  }
});

it('throws as toISOString does', () => {
  expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError);
  expect(() => native.call(new Date(Number.NaN))).toThrow(RangeError);
  expect(() => isoString({} as Date)).toThrow(TypeError);
  expect(() => native.call({})).toThrow(TypeError);
});
