// Reporter.flush() is called with `void` from timers and signal paths: a rejection there would
// be an unhandled rejection, which ends the agent. It must resolve whatever fails under it.
import { expect, it } from 'vitest';
import type { AgentReport } from '../../src/contract/report.js';
import { silentLogger } from '../../src/common/log.js';
import { initialState } from '../../src/agent/node-state.js';
import { Reporter, makeReport } from '../../src/agent/reports.js';
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

it('sends a long outbox in chunks that fit a Service Bus batch, all to the configured queue', async () => {
  const sends: Array<{ queue: string; count: number }> = [];
  class CountingBus extends FakeBus {
    override async sendReports(queue: string, reports: readonly AgentReport[]): Promise<void> {
      sends.push({ queue, count: reports.length });
      await super.sendReports(queue, reports);
    }
  }
  const state = initialState('n1', 'eu', new Date());
  const reporter = new Reporter({ bus: new CountingBus(), queue: 'reports-eu', limits: { ttlMs: 60_000, max: 500 }, state: () => state, save: () => {}, log: silentLogger, now: () => new Date() });
  for (let i = 0; i < 60; i++) reporter.enqueue(makeReport(state, { messageId: `m/${i}` }, 'rejected', [], new Date()));
  // An older state file may have recorded another queue: it is not where the report goes.
  state.outbox[0]!.queue = 'elsewhere';
  await reporter.flush();
  expect(sends).toEqual([
    { queue: 'reports-eu', count: 25 },
    { queue: 'reports-eu', count: 25 },
    { queue: 'reports-eu', count: 10 },
  ]);
  expect(state.outbox).toEqual([]);
  await reporter.close(10);
});
