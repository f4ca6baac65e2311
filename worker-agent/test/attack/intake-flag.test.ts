// A PID file's `intakeFile` can name any path: the root agent must never create, replace or
// delete it. The agent writes only its own flag, in a directory it owns, and refuses to start
// when that directory is not its own.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeStateStore, initialState } from '../../src/agent/node-state.js';
import { startProcess, waitFor } from '../helpers.js';
import { useClusters } from '../bus/cluster.js';
import { NOBODY, eventsNamed, exposedNode, intakeFlagOf, register, snapshot, victimDir } from './attack.js';

const clusters = useClusters();

// Root only: the attacker must be another user than the agent, as in production (CI is root).
describe.runIf(process.getuid?.() === 0)('intake flag paths from PID files', () => {
  it('writes and removes only its own flag, whatever a worker names in intakeFile', async () => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    const victim = victimDir();
    const before = snapshot(victim.dir);
    await register(node, { workerId: 'replace', extra: { intakeFile: victim.secret } });
    await register(node, { workerId: 'create', extra: { intakeFile: join(victim.dir, 'made', 'by', 'agent.conf') } });
    await node.startAgent();

    await cluster.publish([{ body: { operation: 'do-not-accept-new-tasks', drainId: 'i' }, messageId: 'i/0' }]);
    await waitFor(() => node.state()?.state === 'intake-stopped');
    expect(snapshot(victim.dir)).toEqual(before);
    expect(JSON.parse(readFileSync(intakeFlagOf(node), 'utf8'))).toMatchObject({ messageId: 'i/0', drainId: 'i' });
    expect(node.state()?.intake?.flags).toEqual([intakeFlagOf(node)]);
    const resumed = await node.cli(['resume']);
    expect(resumed.code).toBe(0);
    expect(existsSync(intakeFlagOf(node))).toBe(false);

    expect(snapshot(victim.dir)).toEqual(before);
    const ignored = eventsNamed(node.agent, 'pid-file-intake-file-ignored').map((e) => e['intakeFile']);
    expect(ignored.sort()).toEqual([join(victim.dir, 'made', 'by', 'agent.conf'), victim.secret]);
  });

  it('touches no worker path listed in the flags of a state file from an earlier version, on recovery or resume', async () => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    const victim = victimDir();
    const before = snapshot(victim.dir);
    // Committed and not yet completed when the earlier agent stopped: recovery raises the flags again.
    const message = { operation: 'do-not-accept-new-tasks' as const, drainId: 'old' };
    const state = initialState(node.id, cluster.topic, new Date());
    state.state = 'intake-stopped';
    state.intake = { messageId: 'old/0', sequenceNumber: '99', operation: message.operation, message, replyTo: cluster.reportsQueue, acceptedAt: new Date().toISOString(), flags: [intakeFlagOf(node), victim.secret], workers: [] };
    state.pending = { messageId: 'old/0', sequenceNumber: '99', operation: message.operation, message, replyTo: cluster.reportsQueue, phase: 'committed', receivedAt: new Date().toISOString() };
    state.seen = ['old/0'];
    new NodeStateStore(node.stateDir).save(state);

    await node.startAgent();
    await waitFor(() => node.state()?.pending === undefined);
    expect(snapshot(victim.dir)).toEqual(before);
    expect(existsSync(intakeFlagOf(node))).toBe(true);
    expect(eventsNamed(node.agent, 'intake-flags-ignored')[0]).toMatchObject({ paths: [victim.secret] });

    expect((await node.cli(['resume'])).code).toBe(0);
    expect(existsSync(intakeFlagOf(node))).toBe(false);
    expect(snapshot(victim.dir)).toEqual(before);
  });

  it.each([
    ['owned by another user', (dir: string) => chownSync(dir, NOBODY.uid, NOBODY.gid), /owned by uid 65534/],
    ['group-writable', (dir: string) => chmodSync(dir, 0o775), /writable by its group/],
  ])('refuses to start when its intake directory is %s, naming it', async (_, spoil, why) => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    const intakeDir = join(node.dir, 'intake');
    mkdirSync(intakeDir, { mode: 0o755 });
    spoil(intakeDir);
    const agent = startProcess(process.execPath, [cluster.built.agent, 'listen'], node.agentEnv());
    const exit = await Promise.race([agent.exited, new Promise((r) => setTimeout(r, 15_000, 'still running'))]);
    expect(exit).toEqual({ code: 2, signal: null });
    expect(agent.output()).toContain(`intake directory (the directory of WORKFORCE_INTAKE_FLAG / --intake-flag) ${intakeDir} is unsafe`);
    expect(agent.output()).toMatch(why);
  });
});
