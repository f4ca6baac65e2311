import { ServiceBusClient } from '@azure/service-bus';
import { type AgentReport, isPresenceBody } from '@workforce/worker-agent/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../../src/config.js';
import { sendRaw } from '../support/agents.js';
import { buildArtifacts, isRunning, Node } from '../support/fleet.js';
import { startBus, waitFor, type Emulator } from '../support/control-plane.js';

/**
 * A graceful-downscale whose deadline has already passed when a node receives it would be an
 * immediate SIGKILL of the node's workers. It is expired instead: the agent reports `expired` and
 * does not act. A real agent and worker on the emulator; reports read off the queue.
 */
describe('a drain message whose deadline already passed', () => {
  const topic = 'late-1';
  let bus: Emulator;
  let sb: ServiceBusClient;
  let node: Node;

  beforeAll(async () => {
    let artifacts;
    [bus, artifacts] = await Promise.all([startBus(), buildArtifacts()]);
    bus.emulator.catalogue.putTopic(topic);
    bus.emulator.catalogue.putSubscription(topic, SHUTDOWN_SUBSCRIPTION);
    sb = new ServiceBusClient(bus.emulator.connectionString);
    node = new Node('late-node', topic);
    await node.start(artifacts, bus.emulator.connectionString, 200, 300);
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await sb?.close();
    await bus?.close();
  });

  it('is reported expired and not acted on', async () => {
    const now = Date.now();
    const deadline = new Date(now - 60_000).toISOString();
    await sendRaw(sb, topic, {
      body: { operation: 'graceful-downscale', drainId: 'late', deadline, notAfter: new Date(now + 600_000).toISOString() },
      messageId: 'late/1',
      contentType: 'application/json',
    });

    const reports: AgentReport[] = [];
    const receiver = sb.createReceiver(REPORTS_QUEUE, { receiveMode: 'receiveAndDelete' });
    try {
      await waitFor(async () => {
        // Presence reports (online, heartbeats) share the queue; this test reads the drain reports.
        for (const m of await receiver.receiveMessages(10, { maxWaitTimeInMs: 200 })) if (!isPresenceBody(m.body)) reports.push(m.body as AgentReport);
        return reports.length > 0;
      }, 'the agent to report');
    } finally {
      await receiver.close();
    }

    expect(reports.map((r) => [r.messageId, r.state, r.reason])).toEqual([['late/1', 'expired', `deadline ${deadline} passed before this node received it`]]);
    // Nothing was signalled: the worker still works, and the node takes the next drain.
    expect(node.queue.events().filter((e) => e.event === 'drain-requested')).toEqual([]);
    expect(isRunning(node.worker)).toBe(true);
  });
});
