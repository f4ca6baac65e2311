import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTS_QUEUE } from '../../src/config.js';
import { controlPlaneWithNode, type Node } from '../support/fleet.js';
import { peek, sendRaw } from '../support/agents.js';
import { waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * Presence reports of a real agent reach the reports trigger of the local host, which completes
 * them (the inventory that stores them is the next part of issue #15): none is dead-lettered. A
 * malformed presence report is malformed like any other report: logged and completed.
 */
describe('presence reports through the control plane', () => {
  const topic = 'presence-1';
  let cp: ControlPlane;
  let node: Node;

  beforeAll(async () => {
    // Debug logs say when a presence report left the agent (`presence-sent`).
    ({ cp, node } = await controlPlaneWithNode(topic, 'presence-node', { tasks: 0, taskMs: 0, agentEnv: { WORKFORCE_LOG_LEVEL: 'debug', WORKFORCE_HEARTBEAT: '200ms' } }));
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await cp?.close();
  });

  const sent = () => node.agent.events().filter((e) => e['event'] === 'presence-sent').length;

  it('completes presence reports and dead-letters none', async () => {
    await waitFor(() => sent() >= 5, 'five presence reports from the agent');
    // Stopped cleanly, its last one is `offline`; then nothing more comes and the queue can empty.
    node.agent.kill('SIGTERM');
    expect((await node.agent.exited).code).toBe(0);
    expect(node.agent.events().filter((e) => e['event'] === 'presence-sent').at(-1)).toMatchObject({ presence: 'offline' });
    const settled = async () => (await peek(cp.sb, REPORTS_QUEUE)).length === 0;
    await waitFor(async () => (await settled()) || undefined, 'the reports queue to be empty', 30_000);
    expect(await peek(cp.sb, REPORTS_QUEUE, { deadLetter: true })).toEqual([]);
  });

  it('completes a malformed presence report (logged with the field at fault), as any malformed report, and dead-letters nothing', async () => {
    await sendRaw(cp.sb, REPORTS_QUEUE, { body: { kind: 'presence', presence: 'online', nodeId: 'mallory', workers: 'all of them' }, contentType: 'application/json' });
    await waitFor(async () => (await peek(cp.sb, REPORTS_QUEUE)).length === 0 || undefined, 'the malformed presence report to be taken', 30_000);
    expect(await peek(cp.sb, REPORTS_QUEUE, { deadLetter: true })).toEqual([]);
  });
});
