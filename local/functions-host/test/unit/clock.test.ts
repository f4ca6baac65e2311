import { describe, expect, it } from 'vitest';
import { ManualClock, RealClock } from '../../src/clock.js';

describe('ManualClock', () => {
  it('fires due timers in time order, including timers set by timers, and nothing early', async () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimer(3000, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(2000, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(2500, () => fired.push(`c@${clock.now()}`));
    });
    const cancel = clock.setTimer(2800, () => fired.push('cancelled'));
    cancel();
    await clock.advance(999);
    expect(fired).toEqual([]);
    await clock.advance(1001);
    expect(fired).toEqual(['a@2000', 'c@2500', 'b@3000']);
    expect(clock.now()).toBe(3000);
    expect(clock.pending).toBe(0);
  });

  it('never moves backwards', async () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    await expect(clock.set(new Date('2029-01-01T00:00:00Z'))).rejects.toThrow(/backwards/);
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
  });
});

describe('RealClock', () => {
  it('fires after the wall-clock time is reached and can be cancelled', async () => {
    const clock = new RealClock();
    const t0 = clock.now();
    const fired = await new Promise<number>((resolve) => clock.setTimer(t0 + 30, () => resolve(clock.now())));
    expect(fired).toBeGreaterThanOrEqual(t0 + 29);
    let called = false;
    clock.setTimer(clock.now() + 20, () => (called = true))();
    await new Promise((r) => setTimeout(r, 50));
    expect(called).toBe(false);
  });
});
