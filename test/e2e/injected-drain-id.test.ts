import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../local/functions-host/src/durable/history.js';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../../src/config.js';
import { controlPlaneWithNode, isRunning, type Node } from '../support/fleet.js';
import { peek, sendRaw } from '../support/agents.js';
import { betweenGenerations, drainWithoutTimes, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * A principal with Send on one topic publishes a control message whose drainId carries a durable
 * operation on another drain. Acted on, and echoed in the agent's reports, that id would reach the
 * control plane as a terminate of that drain. The agent dead-letters it (InvalidControlMessage)
 * without acting, and its rejected report names no drain. Real agent and worker, the local host
 * and the emulator.
 */
describe('a control message whose drainId carries a durable operation', () => {
  const topic = 'inj-1';
  let cp: ControlPlane;
  let node: Node;

  beforeAll(async () => {
    // Debug logs say when the agent's reports left it (`reports-sent`).
    ({ cp, node } = await controlPlaneWithNode(topic, 'inj-node', { tasks: 200, taskMs: 300, agentEnv: { WORKFORCE_LOG_LEVEL: 'debug' } }));
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await cp?.close();
  });

  const view = (id: string) => drainWithoutTimes(cp, id);

  it('is dead-lettered unacted, and the drain it names keeps running unchanged', async () => {
    // The victim drains nodes of another topic, so this node never takes its message.
    await cp.api('PUT', 'topics/inj-victim');
    expect((await cp.api('POST', 'topics/inj-victim/drains', { drainId: 'victim2', count: 1, ackTimeout: '10m' })).status).toBe(202);
    await waitFor(async () => {
      const v = await view('victim2');
      return v.counts !== undefined && v.outcome === undefined;
    }, 'the victim drain to publish');
    const before = await view('victim2');

    const evil = 'victim2/terminate?reason=x&';
    await sendRaw(cp.sb, topic, {
      body: { operation: 'graceful-downscale', drainId: evil, notAfter: new Date(Date.now() + 600_000).toISOString() },
      messageId: `${evil}/1`,
      contentType: 'application/json',
    });

    // The agent handled it and sent its report (either way), the report left the queue, and
    // whatever it caused on the victim has been taken by an episode.
    await waitFor(() => node.agent.output().split('\n').some((l) => l.includes('"reports-sent"') && l.includes(`${evil}/1`)), 'the agent to report on the message');
    const unhandled = () => cp.host.durable.store.messages('victim2').filter((m) => m.event.EventType === EventType.EventRaised || m.event.EventType === EventType.ExecutionTerminated);
    await waitFor(async () => (await peek(cp.sb, REPORTS_QUEUE)).length === 0 && unhandled().length === 0 && !betweenGenerations(cp, 'victim2'), 'the reports to be handled', 30_000);

    expect(cp.host.durable.store.getInstance('victim2')?.status).toBe('Running');
    expect(await view('victim2')).toEqual(before);
    const dead = await peek(cp.sb, topic, { subscription: SHUTDOWN_SUBSCRIPTION, deadLetter: true });
    expect(dead.map((m) => [m.messageId, m.deadLetterReason])).toEqual([[`${evil}/1`, 'InvalidControlMessage']]);
    expect(dead[0]!.deadLetterErrorDescription).toMatch(/drainId .* must be 1-64 letters, digits/);
    // The node did not act: its worker was never asked to drain and keeps working.
    expect(node.queue.events().filter((e) => e.event === 'drain-requested')).toEqual([]);
    expect(isRunning(node.worker)).toBe(true);
    expect(isRunning(node.agent)).toBe(true);
  });
});
