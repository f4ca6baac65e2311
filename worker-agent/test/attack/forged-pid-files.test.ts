// Forged PID files: start time and boot id are public, so an unprivileged user can write a PID
// file that names a root process. A PID file counts only when root or the process's own user
// owns it; a group is killed only when the worker leads it; the agent never signals itself, its
// ancestors or PID 1; and a world-writable PID directory without the sticky bit stops it.
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sleep, startProcess, waitFor } from '../helpers.js';
import { useClusters } from '../bus/cluster.js';
import { NOBODY, asNobody, eventsNamed, exposedNode, register, startWitness } from './attack.js';

const clusters = useClusters();

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

// Root only: the attacker must be another user than the agent, as in production (CI is root).
describe.runIf(process.getuid?.() === 0)('forged PID files', () => {
  it('signals no root process named by a file nobody wrote, and drains the worker whose own file it is', async () => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    const jsonVictim = await startWitness(node.dir, 'json-victim');
    const legacyVictim = await startWitness(node.dir, 'legacy-victim');
    await register(node, { workerId: 'forged', targetPid: jsonVictim.pid, extra: { signals: { 'graceful-downscale': 'SIGTERM', 'do-not-accept-new-tasks': 'SIGUSR1' } } });
    asNobody(`echo ${legacyVictim.pid} > ${node.pidDir}/forged-legacy.pid`);
    const honest = await register(node, { workerId: 'honest' });
    await node.startAgent();

    // The legacy convention sends SIGUSR1 on an intake stop, SIGUSR2 on a drain; the deadline
    // SIGKILLed what the agent had taken for workers.
    await cluster.publish([{ body: { operation: 'do-not-accept-new-tasks', drainId: 'i' }, messageId: 'i/0' }]);
    await waitFor(() => node.state()?.state === 'intake-stopped');
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'd', deadline: inSeconds(2) }, messageId: 'd/0' }]);
    await waitFor(() => node.state()?.state === 'drained');
    expect(await honest.exited).toEqual({ code: 0, signal: null });

    expect(jsonVictim.signals()).toEqual([]);
    expect(legacyVictim.signals()).toEqual([]);
    expect(jsonVictim.alive() && legacyVictim.alive()).toBe(true);
    expect(node.state()?.drain?.workers.map((w) => w.workerId)).toEqual(['honest']);
    // Logged once per file, though the drain rescanned the directory many times.
    const untrusted = eventsNamed(node.agent, 'pid-file-untrusted').map((e) => e['path']);
    expect(untrusted.sort()).toEqual([join(node.pidDir, 'forged-legacy.pid'), join(node.pidDir, 'forged.pid')]);
  });

  it('at the deadline, SIGKILLs only the worker, not the process group of its root launcher', async () => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    // A root launcher, leader of its own group, starts a worker as nobody in that group.
    const launcher = await startWitness(node.dir, 'launcher', {
      detached: true,
      env: { PID_DIR: node.pidDir, TOPIC: cluster.topic },
      code: `
        const child = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(`
          const fs = require('node:fs');
          const stat = fs.readFileSync('/proc/self/stat', 'latin1');
          const record = { pid: process.pid, startTime: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]),
            bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), topic: process.env.TOPIC, workerId: 'member', signals: {} };
          fs.writeFileSync(process.env.PID_DIR + '/member.pid', JSON.stringify(record));
          process.on('SIGTERM', () => {});
          setInterval(() => {}, 1000);
        `)}], { uid: ${NOBODY.uid}, gid: ${NOBODY.gid}, stdio: 'inherit' });
        console.log('member ' + child.pid);
      `,
    });
    await waitFor(() => launcher.proc.output().includes('member '));
    const memberPid = Number(/member (\d+)/.exec(launcher.proc.output())![1]);
    await waitFor(() => existsSync(join(node.pidDir, 'member.pid')));
    await node.startAgent();
    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'd', deadline: inSeconds(1) }, messageId: 'd/0' }]);
    await waitFor(() => node.state()?.state === 'drained', 20_000);

    expect(node.state()?.drain?.workers).toEqual([expect.objectContaining({ workerId: 'member', pid: memberPid, escalatedAt: expect.any(String) })]);
    expect(launcher.alive()).toBe(true);
    expect(launcher.signals()).toEqual([]);
  });

  it('never signals itself or its ancestors, even for a root-owned PID file', async () => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    // The agent runs under a root launcher that records the signals it gets.
    const launcher = await startWitness(node.dir, 'parent', {
      code: `
        const agent = require('node:child_process').spawn(process.execPath, [${JSON.stringify(cluster.built.agent)}, 'listen'], { stdio: 'inherit', env: ${JSON.stringify({ ...process.env, ...node.agentEnv() })} });
        console.log('agent ' + agent.pid);
      `,
    });
    await launcher.proc.waitForEvent('listening');
    const agentPid = Number(/agent (\d+)/.exec(launcher.proc.output())![1]);
    // Root-owned files (trusted by owner) naming the launcher and the agent itself.
    await register(node, { workerId: 'parent', targetPid: launcher.pid, user: { uid: 0, gid: 0 } });
    await register(node, { workerId: 'self', targetPid: agentPid, user: { uid: 0, gid: 0 } });

    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'd' }, messageId: 'd/0' }]);
    await waitFor(() => node.state()?.state === 'drained');
    await sleep(300);
    expect(launcher.signals()).toEqual([]);
    expect(eventsNamed(launcher.proc, 'stopping')).toEqual([]); // the agent got no SIGTERM either
    const refused = eventsNamed(launcher.proc, 'pid-file-protected').map((e) => `${String(e['path']).split('/').pop()}: ${String(e['reason'])}`);
    expect(refused.sort()).toEqual(['parent.pid: names an ancestor of the agent: never signalled', 'self.pid: names the agent itself: never signalled']);
  });

  it('refuses to start when every user can write the PID directory and it has no sticky bit', async () => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    chmodSync(node.pidDir, 0o777);
    const agent = startProcess(process.execPath, [cluster.built.agent, 'listen'], node.agentEnv());
    const exit = await Promise.race([agent.exited, sleep(15_000).then(() => 'still running')]);
    expect(exit).toEqual({ code: 2, signal: null });
    expect(agent.output()).toContain(`PID directory (WORKFORCE_PID_DIR / --pid-dir) ${node.pidDir} is unsafe: every user can write it and it has no sticky bit (mode 0777)`);
  });
});
