// Bad entries a worker can plant in the PID directory: a FIFO `f.pid` (a read would block), a
// directory `x.pid`, a 300 MB sparse file, a symlink to a root file. Each must be one invalid
// entry, logged once per version of it: the agent starts, drains the real worker beside it, and
// stops on SIGTERM.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../helpers.js';
import { useClusters } from '../bus/cluster.js';
import { asNobody, eventsNamed, exposedNode, snapshot, startWitness, victimDir } from './attack.js';

const clusters = useClusters();

// Root only: the attacker must be another user than the agent, as in production (CI is root).
describe.runIf(process.getuid?.() === 0)('bad entries in the PID directory', () => {
  it.each([
    ['a FIFO', 'f.pid', 'mkfifo f.pid', /not a regular file \(a FIFO\)/],
    ['a directory', 'x.pid', 'mkdir x.pid', /not a regular file \(a directory\)/],
    ['a 300 MB sparse file', 'big.pid', 'truncate -s 300M big.pid', /314572800 bytes, larger than 65536/],
    ['a symlink to a root daemon\'s PID file', 'daemon.pid', 'ln -s "$ROOT_PID_FILE" daemon.pid', /a symlink/],
  ])('%s: starts, drains the worker beside it, stops on SIGTERM', async (_, name, plant, why) => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    // A root daemon with its own PID file (integer, like /run/sshd.pid), outside the PID directory.
    const daemon = await startWitness(node.dir, 'daemon');
    const victim = victimDir();
    const rootPidFile = join(victim.dir, 'daemon.pid');
    writeFileSync(rootPidFile, `${daemon.pid}\n`, { mode: 0o644 });
    const before = snapshot(victim.dir);
    asNobody(`cd ${node.pidDir} && ROOT_PID_FILE=${rootPidFile} && ${plant}`);
    node.queue.enqueue('t0', 600);
    node.startWorker('node', 'w0');
    await node.waitRegistered();
    await node.startAgent();

    await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'd' }, messageId: 'd/0' }]);
    await waitFor(() => node.state()?.state === 'drained');
    expect(node.queue.done()).toEqual(['t0']);
    expect(node.state()?.drain?.workers.map((w) => w.workerId)).toEqual(['w0']);
    expect(daemon.signals()).toEqual([]);
    expect(snapshot(victim.dir)).toEqual(before);
    const invalid = eventsNamed(node.agent, 'pid-file-invalid');
    expect(invalid).toHaveLength(1); // once, although the drain scanned the directory again and again
    expect(invalid[0]).toMatchObject({ path: join(node.pidDir, name), error: expect.stringMatching(why) });

    node.agent.kill('SIGTERM');
    const exit = await Promise.race([node.agent.exited, sleep(15_000).then(() => 'ignored SIGTERM')]);
    expect(exit).toEqual({ code: 0, signal: null });
  });
});
