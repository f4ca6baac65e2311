// The resume signal of a per-node `resume` command is sent like every other signal: a PID file
// is a claim, checked before it is acted on. A file that `nobody` wrote for a root process,
// declaring a resume signal, gets that process nothing; the honest worker gets its own.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers.js';
import { useClusters } from '../bus/cluster.js';
import { exposedNode, register, startWitness } from './attack.js';

const clusters = useClusters();

// Root only: the attacker must be another user than the agent, as in production (CI is root).
describe.runIf(process.getuid?.() === 0)('forged PID files and the resume signal', () => {
  it('sends the resume signal to no root process named by a file nobody wrote', async () => {
    const cluster = await clusters.start({ commands: {} });
    const node = exposedNode(cluster, 'n0');
    const victim = await startWitness(node.dir, 'victim');
    await register(node, { workerId: 'forged', targetPid: victim.pid, extra: { signals: { 'graceful-downscale': 'SIGTERM', resume: 'SIGUSR2' } } });
    node.startWorker('node', 'honest', ['--intake-signal', 'SIGUSR1', '--resume-signal', 'SIGUSR2']);
    await waitFor(() => node.queue.events().some((e) => e.event === 'registered'), 15_000, () => 'the honest worker to register');
    await node.startAgent();
    await node.agent.waitForEvent('commands-session-accepted');
    const notAfter = new Date(Date.now() + 60_000).toISOString();
    await cluster.sendCommands([{ sessionId: 'n0', messageId: 'stop/1', body: { operation: 'do-not-accept-new-tasks', nodeId: 'n0', drainId: 'stop', notAfter } }]);
    await waitFor(() => node.state()?.state === 'intake-stopped', 15_000, () => 'the intake stop');
    await cluster.sendCommands([{ sessionId: 'n0', messageId: 'go/1', body: { operation: 'resume', nodeId: 'n0', drainId: 'go', notAfter } }]);
    await waitFor(() => cluster.reports.some((r) => r.messageId === 'go/1' && r.state === 'resumed'), 15_000, () => 'the resume');
    await waitFor(() => node.queue.events().some((e) => e.event === 'resume-signal'), 10_000, () => 'the honest worker to get its resume signal');
    expect(node.state()?.resumed?.workers.map((w) => [w.workerId, w.signal])).toEqual([['honest', 'SIGUSR2']]);
    expect(victim.signals()).toEqual([]);
    expect(victim.alive()).toBe(true);
  });
});
