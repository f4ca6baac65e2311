// The presence sender's rules, on the in-memory ControlBus: it waits behind a drain's reports,
// keeps only the latest unsent report while sends fail (bounded by construction), and never
// rejects; `offline` on close.
import { expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, createLogger, silentLogger } from '../../src/common/log.js';
import { initialState } from '../../src/agent/node-state.js';
import { Presence } from '../../src/agent/presence.js';
import { makeReport } from '../../src/agent/reports.js';
import { FakeBus } from '../fake-bus.js';
import { tempDir, waitFor } from '../helpers.js';

function presenceWith(pidDir = tempDir('wf-presence-'), log: Logger = silentLogger) {
  const bus = new FakeBus();
  const state = initialState('n1', 'eu', new Date());
  const config = { reportsQueue: 'workforce-reports', heartbeatMs: 60_000, pidDir, topic: 'eu', legacySignals: true };
  const presence = new Presence({ bus, config, state: () => state, log, now: () => new Date(), startedAt: new Date() });
  return { bus, state, presence };
}

it('waits while drain reports are in the outbox: they go first', async () => {
  const { bus, state, presence } = presenceWith();
  state.outbox.push({ queue: 'workforce-reports', report: makeReport(state, { messageId: 'd/0' }, 'accepted', [], new Date()) });
  presence.start();
  await new Promise((r) => setTimeout(r, 300));
  expect(bus.presence).toEqual([]);
  state.outbox = [];
  await waitFor(() => bus.presence.length === 1, 5000);
  expect(bus.presence[0]).toMatchObject({ queue: 'workforce-reports', report: { presence: 'online', nodeId: 'n1', nodeState: 'active' } });
  await presence.close(1000);
});

it('keeps only the latest unsent report while sends fail, then sends that one; never rejects', async () => {
  const { bus, state, presence } = presenceWith();
  bus.failing.add('sendPresence');
  presence.start();
  for (let i = 0; i < 50; i++) presence.post('heartbeat');
  state.state = 'intake-stopped';
  await new Promise((r) => setTimeout(r, 200));
  bus.failing.delete('sendPresence');
  await waitFor(() => bus.presence.length === 1, 5000);
  await new Promise((r) => setTimeout(r, 300));
  // One report for all that were asked: still `online` (never sent), with the state of the moment it left.
  expect(bus.presence.map((p) => [p.report.presence, p.report.nodeState])).toEqual([['online', 'intake-stopped']]);
  await presence.close(1000);
  expect(bus.presence.map((p) => p.report.presence)).toEqual(['online', 'offline']);
});

it('logs a report it cannot build (a PID directory turned into a file) and tries again, without throwing from its timer', async () => {
  const pidDir = join(tempDir('wf-presence-'), 'pids');
  writeFileSync(pidDir, 'not a directory');
  const lines: string[] = [];
  const { bus, presence } = presenceWith(pidDir, createLogger('debug', (l) => lines.push(l)));
  presence.start();
  await waitFor(() => lines.filter((l) => l.includes('"presence-not-sent"')).length >= 2, 5000);
  expect(lines[0]).toContain('ENOTDIR');
  expect(bus.presence).toEqual([]);
  await presence.close(500);
});
