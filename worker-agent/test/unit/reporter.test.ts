// Reporter.flush() is called with `void` from timers and signal paths: a rejection there would
// be an unhandled rejection, which ends the agent. It must resolve whatever fails under it.
import { expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { initialState } from '../../src/node-state.js';
import { Reporter, makeReport } from '../../src/reports.js';
import { FakeBus } from '../fake-bus.js';

function reporterWith(overrides: { save?: () => void; onSent?: () => void }) {
  const state = initialState('n1', 'eu', new Date());
  const reporter = new Reporter({
    bus: new FakeBus(),
    queue: 'workforce-reports',
    limits: { ttlMs: 60_000, max: 10 },
    state: () => state,
    save: overrides.save ?? (() => {}),
    log: silentLogger,
    now: () => new Date(),
    ...(overrides.onSent ? { onSent: overrides.onSent } : {}),
  });
  reporter.enqueue(makeReport(state, { messageId: 'm/0' }, 'accepted', [], new Date()));
  return { reporter, state };
}

it('resolves when persisting the outbox throws', async () => {
  const { reporter, state } = reporterWith({
    save: () => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    },
  });
  await expect(reporter.flush()).resolves.toBeUndefined();
  expect(state.outbox).toEqual([]); // sent: the memory is right even when the disk is not
  await reporter.close(10);
});

it('resolves when a listener of sent reports throws', async () => {
  const { reporter } = reporterWith({
    onSent: () => {
      throw new Error('listener bug');
    },
  });
  await expect(reporter.flush()).resolves.toBeUndefined();
  await reporter.close(10);
});
