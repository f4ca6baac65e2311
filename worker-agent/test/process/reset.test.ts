// `workforce-agent reset` with no agent running: a drained node is re-armed (active, the drain
// forgotten, the intake flag down), but not while a registered worker, a real process, lives.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NodeStateStore, initialState } from '../../src/agent/node-state.js';
import { type Artifacts, buildArtifacts, killAll, removeTempDirs, startExampleWorker, startProcess, tempDir, waitFor } from '../helpers.js';

let built: Artifacts;
beforeAll(async () => {
  built = await buildArtifacts();
});
afterAll(async () => {
  await killAll();
  removeTempDirs();
});

function drainedNode() {
  const dir = tempDir('wf-reset-');
  const stateDir = join(dir, 'state');
  const pidDir = join(dir, 'pids');
  const intakeFlag = join(dir, 'intake', 'eu.intake-stopped');
  mkdirSync(pidDir);
  mkdirSync(join(dir, 'intake'));
  const state = initialState('node-1', 'eu', new Date('2026-12-07T00:00:00Z'));
  state.state = 'drained';
  const acted = (operation: 'graceful-downscale' | 'do-not-accept-new-tasks', n: number) => ({
    messageId: `d/${n}`, sequenceNumber: String(n), operation, message: { operation, drainId: 'd' }, replyTo: 'workforce-reports', acceptedAt: '2026-12-07T00:00:01.000Z', flags: [intakeFlag], workers: [],
  });
  state.intake = acted('do-not-accept-new-tasks', 1);
  state.drain = acted('graceful-downscale', 2);
  const store = new NodeStateStore(stateDir);
  store.save(state);
  writeFileSync(intakeFlag, '{}');
  const env = { WORKFORCE_CONTROL_TOPIC_NAME: 'eu', WORKFORCE_STATE_DIR: stateDir, WORKFORCE_PID_DIR: pidDir, WORKFORCE_INTAKE_FLAG: intakeFlag };
  const cli = async (args: string[]) => {
    const p = startProcess(process.execPath, [built.agent, ...args], env);
    return { code: (await p.exited).code, output: p.output() };
  };
  return { dir, pidDir, intakeFlag, store, cli };
}

it('says how to reset a drained node, refuses while a worker lives, then re-arms it', async () => {
  const node = drainedNode();
  expect((await node.cli(['status'])).output).toContain('takes no control messages until reset: run `workforce-agent reset`');

  const worker = startExampleWorker(built, 'node', { queueDir: join(node.dir, 'queue'), pidDir: node.pidDir, topic: 'eu', workerId: 'still-here' });
  await waitFor(() => existsSync(join(node.pidDir, 'still-here.pid')));
  const refused = await node.cli(['reset']);
  expect(refused).toMatchObject({ code: 1 });
  expect(refused.output).toContain(`reset refused: worker still-here (pid ${worker.pid}`);
  expect(node.store.read()?.state).toBe('drained');

  worker.kill('SIGKILL');
  await worker.exited;
  const reset = await node.cli(['reset']);
  expect(reset).toMatchObject({ code: 0 });
  expect(node.store.read()).toMatchObject({ state: 'active', nodeId: 'node-1' });
  expect(node.store.read()?.drain).toBeUndefined();
  expect(existsSync(node.intakeFlag)).toBe(false);

  // Only a drained node is reset.
  const again = await node.cli(['reset']);
  expect(again.code).toBe(1);
  expect(again.output).toContain('nothing to reset: the node is active');
});
