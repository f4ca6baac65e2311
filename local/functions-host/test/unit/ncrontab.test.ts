import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../../src/triggers/ncrontab.js';

const next = (expr: string, from: string, n = 1): string[] => {
  const s = parseSchedule(expr);
  const out: string[] = [];
  let t = Date.parse(from);
  for (let i = 0; i < n; i++) {
    t = s.next(t);
    out.push(new Date(t).toISOString().replace('.000Z', 'Z'));
  }
  return out;
};

describe('NCRONTAB schedules', () => {
  it('handles every-N steps in seconds and minutes', () => {
    expect(next('*/15 * * * * *', '2030-01-01T00:00:00Z', 3)).toEqual(['2030-01-01T00:00:15Z', '2030-01-01T00:00:30Z', '2030-01-01T00:00:45Z']);
    expect(next('0 */5 * * * *', '2030-01-01T00:03:10Z', 2)).toEqual(['2030-01-01T00:05:00Z', '2030-01-01T00:10:00Z']);
  });

  it('is strictly after the given time', () => {
    expect(next('0 0 * * * *', '2030-01-01T05:00:00Z')).toEqual(['2030-01-01T06:00:00Z']);
    expect(next('0 0 * * * *', '2030-01-01T05:00:00.500Z')).toEqual(['2030-01-01T06:00:00Z']);
  });

  it('handles ranges, lists and day-of-week names (weekdays at 9:30)', () => {
    // 2030-01-04 is a Friday
    expect(next('0 30 9 * * Mon-Fri', '2030-01-04T10:00:00Z', 2)).toEqual(['2030-01-07T09:30:00Z', '2030-01-08T09:30:00Z']);
    expect(next('0 0 8,17 * * *', '2030-01-01T09:00:00Z', 2)).toEqual(['2030-01-01T17:00:00Z', '2030-01-02T08:00:00Z']);
    expect(next('0 0 0 * * 0', '2030-01-01T00:00:00Z')).toEqual(['2030-01-06T00:00:00Z']);
    expect(next('0 0 0 * * 7', '2030-01-01T00:00:00Z')).toEqual(['2030-01-06T00:00:00Z']);
  });

  it('handles days of month, month names and leap days', () => {
    expect(next('0 0 0 1 Jan,Jul *', '2030-02-01T00:00:00Z', 2)).toEqual(['2030-07-01T00:00:00Z', '2031-01-01T00:00:00Z']);
    expect(next('0 0 12 29 2 *', '2030-01-01T00:00:00Z')).toEqual(['2032-02-29T12:00:00Z']);
    expect(next('0 0 0 31 * *', '2030-04-01T00:00:00Z')).toEqual(['2030-05-31T00:00:00Z']);
  });

  it('accepts TimeSpan intervals as the host does', () => {
    expect(next('00:00:30', '2030-01-01T00:00:00Z', 2)).toEqual(['2030-01-01T00:00:30Z', '2030-01-01T00:01:00Z']);
    expect(next('1.00:00:00', '2030-01-01T00:00:00Z')).toEqual(['2030-01-02T00:00:00Z']);
  });

  it('rejects malformed expressions with a message naming the problem', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/has 5 fields; NCRONTAB needs six/);
    expect(() => parseSchedule('0 61 * * * *')).toThrow(/minute 61 is out of range 0-59/);
    expect(() => parseSchedule('0 0 * * Foo *')).toThrow(/"Foo" is not a valid month/);
    expect(() => parseSchedule('0 0 5-2 * * *')).toThrow(/runs backwards/);
    expect(() => parseSchedule('*/0 * * * * *')).toThrow(/Bad step/);
  });
});
