import { commandsQueueName } from '@workforce/worker-agent/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armClient } from '../../src/adapters/arm.js';
import { EXIT } from '../../src/cli/errors.js';
import { commandsArrived, commandsFor, report, sendReports } from '../support/agents.js';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { controlPlaneWithNode, type Node } from '../support/fleet.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { cli } from './run-cli.js';

/**
 * Per-node commands from the CLI against the local system (emulator + host with the app's
 * sources, presence in Azurite): simulated nodes (presence reports sent as agents send them),
 * their commands read from the commands queue's sessions, reports sent back as agents send them.
 * The safety budget: online 5 (sim-a, sim-b, sim-c active; sim-s intake-stopped; sim-gone stale),
 * unavailable 2 (sim-s, sim-gone), max 3.
 */
describe('workforce drain --node, resume and topic policy against the local system', () => {
  const topic = 'cli-cmds';
  let cp: ControlPlane;
  let env: Record<string, string>;
  beforeAll(async () => {
    cp = await startControlPlane();
    env = { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY };
    expect((await cli(['topic', 'ensure', topic], env)).code).toBe(EXIT.ok);
    await sendPresence(cp.sb, [
      ...['sim-a', 'sim-b', 'sim-c'].map((id) => presenceReport(topic, id, { heartbeatSeconds: 3600 })),
      presenceReport(topic, 'sim-s', { heartbeatSeconds: 3600, nodeState: 'intake-stopped' }),
      // One heartbeat, then silence: stale after three intervals.
      presenceReport(topic, 'sim-gone', { heartbeatSeconds: 1 }),
    ]);
    await waitFor(async () => {
      const nodes = JSON.parse((await cli(['nodes', topic, '--json'], env)).stdout) as Array<{ nodeId: string; stale?: boolean }>;
      return nodes.length === 5 && nodes.find((n) => n.nodeId === 'sim-gone')?.stale === true;
    }, 'the five simulated nodes in the inventory, sim-gone stale');
  }, 120_000);
  afterAll(async () => {
    await cp?.close();
  });

  it('topic policy: none yet (exit 6, says how to set one), set, shown with its figures', async () => {
    const none = await cli(['topic', 'policy', topic], env);
    expect(none.code).toBe(EXIT.refused);
    expect(none.stderr).toContain(`topic ${topic} has no policy`);
    expect(none.stderr).toContain(`set one with \`workforce topic policy ${topic} --max-unavailable 20%\``);

    expect(await cli(['topic', 'policy', topic, '--max-unavailable', '3'], env)).toMatchObject({ code: EXIT.ok, stdout: `topic ${topic}: policy set: at most 3 nodes unavailable at once\n`, stderr: '' });
    expect(await cli(['topic', 'policy', topic], env)).toMatchObject({ code: EXIT.ok, stdout: `topic ${topic}: at most 3 nodes unavailable at once\n  now: online 5, unavailable 2, allowed 3\n` });
    expect(JSON.parse((await cli(['topic', 'policy', topic, '--json'], env)).stdout)).toMatchObject({ topic, maxUnavailable: 3, budget: { online: 5, unavailable: 2, allowed: 3 } });
    expect((await cli(['topics'], env)).stdout).toMatch(/^cli-cmds\s+3\s+1\s+0\s+0\s+1\s+0\s+5\s+2\/3 \(max 3\)\s+-$/m);
  });

  it('drain --node --dry-run prints the plan and sends nothing: no drain, no command in any session', async () => {
    const r = await cli(['drain', topic, '--node', 'sim-a', '--node', 'sim-gone', '--dry-run'], env);
    expect(r).toMatchObject({ code: EXIT.ok, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`dry run: graceful-downscale of sim-a, sim-gone on ${topic}; nothing was sent`);
    expect(lines[1]).toBe(`  would send 2 messages to ${topic}-commands:`);
    expect(lines[2]).toMatch(/^ {4}to sim-a: graceful-downscale, expires \d{4}-\d\d-\d\dT\S+Z$/);
    expect(lines[3]).toMatch(/^ {4}to sim-gone: graceful-downscale, expires /);
    expect(lines[4]).toBe('  nodes now: 3 active, 1 intake-stopped, 1 stale');
    // sim-gone is stale already: only sim-a is made unavailable.
    expect(lines[5]).toBe('  budget: within · online 5, unavailable 2, this drain adds 1, allowed 3 (maxUnavailable 3)');
    expect(lines[6]).toMatch(/^ {2}not reachable now \(each command waits until \S+Z, then expires\):$/);
    expect(lines[7]).toMatch(/^ {4}sim-gone: stale: last seen \S+$/);

    // Any N nodes: one entry for the N control messages on the shutdown subscription.
    const anyOne = await cli(['drain', topic, '--count', '1', '--mode', 'do-not-accept-new-tasks', '--dry-run'], env);
    expect(anyOne.code).toBe(EXIT.ok);
    expect(anyOne.stdout).toMatch(new RegExp(`^dry run: 1 x do-not-accept-new-tasks on ${topic}; nothing was sent\\n  would send 1 message to ${topic}/subscriptions/shutdown:\\n {4}1 x to any node: do-not-accept-new-tasks, expires \\S+Z\\n`));
    expect(anyOne.stdout).toContain('\n  budget: within · online 5, unavailable 2, this drain adds 1, allowed 3 (maxUnavailable 3)\n');

    expect((await cli(['drains', '--topic', topic], env)).stdout).toBe('no drains\n');
    expect(await commandsFor(cp.sb, topic, 'sim-a')).toEqual([]);
    expect(await commandsFor(cp.sb, topic, 'sim-gone')).toEqual([]);
  });

  it('a drain the budget refuses exits 8 with its figures, sends nothing; --force drains the named nodes only', async () => {
    const plan = await cli(['drain', topic, '--node', 'sim-a', '--node', 'sim-b', '--dry-run'], env);
    expect(plan.code).toBe(EXIT.ok);
    expect(plan.stdout).toContain('\n  budget: EXCEEDED: the drain would be refused (exit 8; --force overrides it) · online 5, unavailable 2, this drain adds 2, allowed 3 (maxUnavailable 3)\n');
    const refused = await cli(['drain', topic, '--node', 'sim-a', '--node', 'sim-b', '--reason', 'kernel patch'], env);
    expect(refused.code).toBe(EXIT.budgetExceeded);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(`workforce: the safety budget of ${topic} refuses this drain: online 5, unavailable 2, this drain would add 2, allowed 3 (maxUnavailable 3); nothing was sent — wait for nodes to come back, drain fewer, or override it with --force (recorded in the drain)\n`);
    expect((await cli(['drains', '--topic', topic], env)).stdout).toBe('no drains\n');
    expect(await commandsFor(cp.sb, topic, 'sim-a')).toEqual([]);

    const forced = await cli(['drain', topic, '--node', 'sim-a', '--node', 'sim-b', '--reason', 'kernel patch', '--force'], env);
    expect(forced).toMatchObject({ code: EXIT.ok, stderr: '' });
    const [first, ...rest] = forced.stdout.trimEnd().split('\n');
    const drainId = /^drain (\S+) started: graceful-downscale of sim-a, sim-b on cli-cmds$/.exec(first!)![1]!;
    expect(rest).toEqual(['  forced (--force): recorded in the drain', `  follow it: workforce status ${drainId} --watch`]);
    for (const [n, nodeId] of [[1, 'sim-a'], [2, 'sim-b']] as const) {
      const [command, ...more] = await commandsArrived(cp.sb, topic, nodeId);
      expect(more).toEqual([]);
      expect(command).toMatchObject({ messageId: `${drainId}/${n}`, sessionId: nodeId, subject: 'graceful-downscale', body: { nodeId, operation: 'graceful-downscale', drainId, reason: 'kernel patch' } });
    }
    expect(await commandsFor(cp.sb, topic, 'sim-c')).toEqual([]);
    const status = await cli(['status', drainId], env);
    expect(status.stdout).toMatch(/^ {2}forced past the safety budget or the inventory's node ids by \S+@\S+$/m);
    expect(status.stdout).toMatch(/^ {2}named nodes: sim-a, sim-b$/m);
    expect((await cli(['cancel', drainId], env)).code).toBe(EXIT.ok);
  });

  it('a drain of a stale node starts, says it is not reachable, and so does its status', async () => {
    const r = await cli(['drain', topic, '--node', 'sim-gone', '--not-after', '10m'], env);
    expect(r).toMatchObject({ code: EXIT.ok, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    const drainId = /^drain (\S+) started: graceful-downscale of sim-gone on cli-cmds$/.exec(lines[0]!)![1]!;
    expect(lines[1]).toMatch(/^ {2}not reachable when sent \(each command waits until \S+Z, then expires\):$/);
    expect(lines[2]).toMatch(/^ {4}sim-gone: stale: last seen \S+$/);
    expect((await cli(['status', drainId], env)).stdout).toMatch(/\n {2}not reachable when sent \(each command waits until \S+Z, then expires\):\n {4}sim-gone: stale: last seen \S+\n/);
    expect((await cli(['cancel', drainId], env)).code).toBe(EXIT.ok);
  });

  it('a node id the inventory never saw: exit 6 naming the flag, or sent with --force', async () => {
    const r = await cli(['drain', topic, '--node', 'sim-a', '--node', 'sim-typo', '--intake-stop'], env);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stderr).toContain('has never seen node(s) "sim-typo"');
    expect(r.stderr).toContain(`check the --node ids (\`workforce nodes ${topic}\` lists them), or send to them anyway with --force`);
    const forced = await cli(['drain', topic, '--node', 'sim-typo', '--intake-stop', '--force'], env);
    expect(forced.code).toBe(EXIT.ok);
    expect(forced.stdout).toContain('  never seen by the fleet inventory, sent all the same (--force): sim-typo\n');
    const [command] = await commandsArrived(cp.sb, topic, 'sim-typo');
    expect(command?.body).toMatchObject({ nodeId: 'sim-typo', operation: 'do-not-accept-new-tasks' });
    const drainId = /^drain (\S+) started/.exec(forced.stdout)![1]!;
    expect((await cli(['cancel', drainId], env)).code).toBe(EXIT.ok);
  });

  it('resume --all --wait resumes every intake-stopped node and exits 0 once it reported; a resume never counts against the budget', async () => {
    const plan = await cli(['resume', topic, '--node', 'sim-a', '--dry-run'], env);
    expect(plan.code).toBe(EXIT.ok);
    expect(plan.stdout).toContain('  budget: a resume never counts against it\n');

    const live = { stdout: '' };
    const waiting = cli(['resume', topic, '--all', '--reason', 'patched', '--wait', '--interval', '200ms'], env, { live });
    const drainId = await waitFor(() => /^drain (\S+) started$/m.exec(live.stdout)?.[1], 'resume --all to start');
    const [command, ...more] = await commandsArrived(cp.sb, topic, 'sim-s');
    expect(more).toEqual([]);
    expect(command).toMatchObject({ messageId: `${drainId}/1`, subject: 'resume', body: { nodeId: 'sim-s', operation: 'resume', reason: 'patched' } });
    // No other node was intake-stopped: the resume names sim-s only.
    expect((await cp.api('GET', `drains/${drainId}`)).body).toMatchObject({ mode: 'resume', targets: ['sim-s'] });
    expect(await commandsFor(cp.sb, topic, 'sim-c')).toEqual([]);
    await sendReports(cp.sb, [report(drainId, 1, 'sim-s', 'accepted', topic), report(drainId, 1, 'sim-s', 'resumed', topic)]);
    const r = await waiting;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(new RegExp(`^\\S+Z ${drainId} completed · 1/1 resumed · accepted 1$`, 'm'));
  });

  it('a topic provisioned before per-node commands: drain --node exits 6 saying `workforce topic ensure` creates its queue', async () => {
    const old = 'cli-cmds-old';
    expect((await cli(['topic', 'ensure', old], env)).code).toBe(EXIT.ok);
    const arm = armClient({ subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'local', namespace: 'local', endpoint: cp.bus.emulator.armEndpoint, caCertificate: cp.bus.emulator.caCertificate, credential: 'emulator' });
    await arm.queues.delete('local', 'local', commandsQueueName(old));
    const r = await cli(['drain', old, '--node', 'sim-a', '--force'], env);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stderr).toContain(`has no commands queue ${old}-commands (it was provisioned before per-node commands): \`workforce topic ensure ${old}\` creates it\n`);
    expect((await cli(['topic', 'ensure', old], env)).stdout).toMatch(new RegExp(`^queue\\s+${old}-commands\\s+created$`, 'm'));
  });

  it('topic policy --clear removes it; showing it again exits 6', async () => {
    expect(await cli(['topic', 'policy', topic, '--clear'], env)).toMatchObject({ code: EXIT.ok, stdout: `topic ${topic}: policy removed; drains are no longer limited\n` });
    expect((await cli(['topic', 'policy', topic], env)).code).toBe(EXIT.refused);
    expect((await cli(['topic', 'policy', topic, '--clear'], env)).code).toBe(EXIT.refused);
  });
});

/**
 * The same commands followed to their end by a real agent (the agent as it ships, its example
 * worker, heartbeat 2 s) beside a simulated idle node: only the named node acts.
 */
describe('workforce drain --node and resume --wait with a real agent', () => {
  const topic = 'cli-cmds-real';
  let cp: ControlPlane;
  let node: Node;
  let env: Record<string, string>;
  beforeAll(async () => {
    ({ cp, node } = await controlPlaneWithNode(topic, 'real-1', { tasks: 0, taskMs: 0, agentEnv: { WORKFORCE_HEARTBEAT: '2s' } }));
    env = { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY };
    await sendPresence(cp.sb, [presenceReport(topic, 'idle-1', { heartbeatSeconds: 3600 })]);
    await waitFor(async () => (await cp.api('GET', `topics/${topic}/nodes`)).body.nodes?.length === 2, 'real-1 and idle-1 in the inventory');
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await cp?.close();
  });

  const stateOf = async (nodeId: string) => ((await cp.api('GET', `topics/${topic}/nodes`)).body.nodes as Array<{ nodeId: string; state: string }>).find((n) => n.nodeId === nodeId)?.state;

  it('drain --node --intake-stop --wait, then resume --all --wait: the agent stops intake, then is active again; exit 0 each', async () => {
    const stop = await cli(['drain', topic, '--node', 'real-1', '--intake-stop', '--reason', 'maintenance', '--wait', '--interval', '200ms'], env);
    expect(stop.stderr).toBe('');
    expect(stop.code).toBe(EXIT.ok);
    expect(stop.stdout).toMatch(/ completed · 1\/1 intake-stopped · accepted 1$/m);
    await waitFor(async () => (await stateOf('real-1')) === 'intake-stopped', 'real-1 intake-stopped in the inventory');
    expect(await stateOf('idle-1')).toBe('active');

    const resume = await cli(['resume', topic, '--all', '--reason', 'done', '--wait', '--interval', '200ms'], env);
    expect(resume.stderr).toBe('');
    expect(resume.code).toBe(EXIT.ok);
    expect(resume.stdout).toMatch(/ completed · 1\/1 resumed · accepted 1$/m);
    await waitFor(async () => (await stateOf('real-1')) === 'active', 'real-1 active again in the inventory');
  });

  it('drain --node --wait drains the named node only; resume --node --wait re-arms it once its workers are gone', async () => {
    const drain = await cli(['drain', topic, '--node', 'real-1', '--wait', '--interval', '200ms'], env);
    expect(drain.stderr).toBe('');
    expect(drain.code).toBe(EXIT.ok);
    expect(drain.stdout).toMatch(/ completed · 1\/1 drained · accepted 1 · draining 0$/m);
    await waitFor(async () => (await stateOf('real-1')) === 'drained', 'real-1 drained in the inventory');
    expect(await stateOf('idle-1')).toBe('active');

    // A drained node refuses a second drain: the drain ends at once, exit 4, the outcome names it.
    const again = await cli(['drain', topic, '--node', 'real-1', '--wait', '--interval', '200ms'], env);
    expect(again.code).toBe(EXIT.timedOut);
    expect(again.stdout).toMatch(/ timed-out · 0\/1 drained · accepted 0 · draining 0 · refused 1$/m);
    expect(again.stdout).toContain('; refused by: "real-1"');

    const rearm = await cli(['resume', topic, '--node', 'real-1', '--wait', '--interval', '200ms'], env);
    expect(rearm.stderr).toBe('');
    expect(rearm.code).toBe(EXIT.ok);
    expect(rearm.stdout).toMatch(/ completed · 1\/1 resumed · accepted 1$/m);
    await waitFor(async () => (await stateOf('real-1')) === 'active', 'real-1 re-armed (active) in the inventory');
  });
});
