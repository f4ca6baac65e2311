import { describe, expect, it, vi } from 'vitest';
import { StepTimeout, within } from '../../src/within.js';

// A shutdown step that never settles is what a stalled (not broken) TCP connection gives the
// Service Bus SDK; it cannot be produced on demand here, so a promise that never settles and a
// fake clock stand in for it.
describe('within', () => {
  it('gives up on a step that never finishes, naming it', async () => {
    vi.useFakeTimers();
    try {
      const pending = within('Service Bus triggers', 15_000, () => new Promise(() => {}));
      const caught = pending.catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(15_000);
      const error = await caught;
      expect(error).toBeInstanceOf(StepTimeout);
      expect((error as Error).message).toBe('Service Bus triggers did not finish within 15000 ms; going on without it');
    } finally {
      vi.useRealTimers();
    }
  });

  it('passes a result or an error through', async () => {
    await expect(within('a', 1_000, () => 42)).resolves.toBe(42);
    await expect(within('b', 1_000, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
  });
});
