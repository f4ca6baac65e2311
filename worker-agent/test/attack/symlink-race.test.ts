// Planted symlinks at the names of temporary files (`.<flag>.<agent pid>.<n>.tmp`, 300 of them)
// must not let an intake stop overwrite a root 0600 file: the flag lives in the agent's own
// directory, and every temporary file is created exclusively, under a random name, without
// following links.
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/common/atomic-file.js';
import { tempDir, waitFor } from '../helpers.js';
import { useClusters } from '../bus/cluster.js';
import { asNobody, exposedNode, intakeFlagOf, snapshot, victimDir } from './attack.js';

const clusters = useClusters();

// Root only: the attacker must be another user than the agent, as in production (CI is root).
describe.runIf(process.getuid?.() === 0)('symlinks planted for the agent to follow', () => {
  it('an intake stop overwrites no file through links planted for its temporary names', async () => {
    const cluster = await clusters.start();
    const node = exposedNode(cluster, 'n0');
    const victim = victimDir();
    const before = snapshot(victim.dir);
    await node.startAgent();
    // Every name the earlier agent could have used for its flag's temporary file, and the flag itself.
    const flag = `${cluster.topic}.intake-stopped`;
    asNobody(`cd ${node.pidDir} && ln -s ${victim.secret} ${flag} && for n in $(seq 1 300); do ln -s ${victim.secret} .${flag}.${node.agent.pid}.$n.tmp; done`);

    await cluster.publish([{ body: { operation: 'do-not-accept-new-tasks', drainId: 'i' }, messageId: 'i/0' }]);
    await waitFor(() => node.state()?.state === 'intake-stopped');
    expect(snapshot(victim.dir)).toEqual(before);
    expect(JSON.parse(readFileSync(intakeFlagOf(node), 'utf8'))).toMatchObject({ messageId: 'i/0' });
    expect((await node.cli(['resume'])).code).toBe(0);
    expect(snapshot(victim.dir)).toEqual(before);
  });
});

describe('writeFileAtomic (the worker libraries and the wrapper write PID files with it, in the shared directory)', () => {
  it('writes through no link planted for a temporary name', () => {
    const dir = tempDir();
    const victim = victimDir();
    const before = snapshot(victim.dir);
    // Every name the earlier scheme (.<name>.<pid>.<counter>.tmp) could use in this process.
    for (let n = 1; n <= 1000; n++) symlinkSync(victim.secret, join(dir, `.w.pid.${process.pid}.${n}.tmp`));
    writeFileAtomic(join(dir, 'w.pid'), '{"pid":1}\n');
    expect(snapshot(victim.dir)).toEqual(before);
    expect(readFileSync(join(dir, 'w.pid'), 'utf8')).toBe('{"pid":1}\n');
  });
});
