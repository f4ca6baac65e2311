// Presence from real agent processes against the emulator: `online` once connected, heartbeats
// every --heartbeat, `offline` on SIGTERM, the node state and workers they carry following an
// intake stop, a drain and `workforce-agent reset`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { waitFor } from '../helpers.js';
import { useClusters } from './cluster.js';

const clusters = useClusters();
const HEARTBEAT = { WORKFORCE_HEARTBEAT: '300ms' };

it('sends online after it connects, a heartbeat every interval with its workers, and offline on SIGTERM', async () => {
  const cluster = await clusters.start();
  const node = await cluster.addNode(['node'], { env: HEARTBEAT });
  const mine = () => cluster.presenceOf(node.id);
  await waitFor(() => mine().filter((p) => p.presence === 'heartbeat').length >= 3, 20_000, () => `3 heartbeats; got ${JSON.stringify(mine().map((p) => p.presence))}`);
  const [online, ...beats] = mine();
  expect(online).toMatchObject({ presence: 'online', topic: cluster.topic, nodeState: 'active', agentVersion: '0.1.0', workerCount: 1, heartbeatSeconds: 0.3 });
  expect(Date.parse(online!.startedAt)).toBeLessThanOrEqual(Date.parse(online!.sentAt));
  expect(online!.workers).toEqual([{ workerId: `${node.id}-node-0`, pid: node.workers[0]!.pid, signals: { 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': null }, alive: true }]);
  expect(beats.every((p) => p.presence === 'heartbeat' && p.startedAt === online!.startedAt)).toBe(true);

  node.agent.kill('SIGTERM');
  expect((await node.agent.exited).code).toBe(0);
  await waitFor(() => mine().at(-1)?.presence === 'offline', 10_000, () => `offline last; got ${JSON.stringify(mine().map((p) => p.presence))}`);
  expect(mine().filter((p) => p.presence === 'offline')).toHaveLength(1);
});

it('follows an intake stop and a drain; a drained node says so until reset, which is refused while a worker lives', async () => {
  const cluster = await clusters.start();
  const node = await cluster.addNode(['node'], { env: HEARTBEAT });
  const last = () => cluster.presenceOf(node.id).at(-1);
  await waitFor(() => last()?.nodeState === 'active');

  await cluster.publish([{ body: { operation: 'do-not-accept-new-tasks', drainId: 'p' }, messageId: 'p/0' }]);
  await waitFor(() => last()?.nodeState === 'intake-stopped', 20_000, () => `intake-stopped; got ${JSON.stringify(last())}`);
  expect(last()?.drain).toEqual({ drainId: 'p', messageId: 'p/0' });

  await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'q' }, messageId: 'q/0' }]);
  await waitFor(() => last()?.nodeState === 'drained', 20_000, () => `drained; got ${JSON.stringify(last())}`);
  expect(last()).toMatchObject({ drain: { drainId: 'q', messageId: 'q/0' }, workers: [] });
  // A drain's reports went first: no presence report of the node left before its `drained` report.
  expect(cluster.reportsOf('drained').map((r) => r.messageId)).toEqual(['q/0']);
  await node.agent.waitForEvent('drained-until-reset');
  // Restarted, it says so at start, once, and comes online drained.
  node.agent.kill('SIGTERM');
  await node.agent.exited;
  const before = cluster.presenceOf(node.id).length;
  await node.startAgent();
  await node.agent.waitForEvent('drained-until-reset');
  await waitFor(() => cluster.presenceOf(node.id).slice(before).some((p) => p.presence === 'online'), 10_000, () => 'online after the restart');
  expect(cluster.presenceOf(node.id).slice(before).find((p) => p.presence === 'online')).toMatchObject({ nodeState: 'drained', drain: { messageId: 'q/0' } });
  expect(node.agent.events().filter((e) => e['event'] === 'drained-until-reset')).toHaveLength(1);
  const status = await node.cli(['status']);
  expect(status.output).toContain('takes no control messages until reset: run `workforce-agent reset`');

  const late = node.startWorker('node', 'late');
  await waitFor(() => existsSync(join(node.pidDir, 'late.pid')), 15_000, () => 'the late worker to register');
  const refused = await node.cli(['reset']);
  expect(refused.code).toBe(1);
  expect(refused.output).toContain(`reset refused: worker late (pid ${late.pid}`);
  expect(node.state()?.state).toBe('drained');

  late.kill('SIGKILL');
  await late.exited;
  const reset = await node.cli(['reset']);
  expect(reset).toMatchObject({ code: 0 });
  expect(reset.output).toContain('is active and takes control messages again');
  await waitFor(() => last()?.nodeState === 'active', 10_000, () => `active after reset; got ${JSON.stringify(last())}`);
  expect(last()?.drain).toBeUndefined();

  // Re-armed: it takes the next drain.
  await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'r' }, messageId: 'r/0' }]);
  await waitFor(() => cluster.reportsOf('drained').some((r) => r.messageId === 'r/0'), 20_000);
});
