import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/domain/durations.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000], ['30m', 1_800_000], ['2h', 7_200_000], ['1h30m', 5_400_000], ['1d', 86_400_000],
    ['250ms', 250], ['PT2H', 7_200_000], ['PT1M30S', 90_000], ['P1DT1H', 90_000_000], ['pt5m', 300_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '0s', '2', 'h', 'PT', 'P', '-5m', '5 minutes', '1h 30m', 'PT1H2'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('reads back what people type', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(90_061_000)).toBe('1d1h1m1s');
    expect(formatDuration(420)).toBe('420ms');
  });
});
