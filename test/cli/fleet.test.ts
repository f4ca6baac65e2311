import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/errors.js';
import { controlPlaneWithNode, type Node } from '../support/fleet.js';
import { FUNCTION_KEY, waitFor, type ControlPlane } from '../support/control-plane.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { cli, cliProcess } from './run-cli.js';

/**
 * `workforce topics`, `workforce nodes` and the drain hint against the local system: a real agent
 * on its topic (heartbeat 2 s, so a loaded machine does not make it stale), presence stored by
 * the reports trigger in Azurite, read through the API. Simulated nodes (presence reports sent
 * as agents send them) stand for a node that fell silent.
 */
describe('workforce topics and nodes against the local system', () => {
  const topic = 'fleet-cli';
  let cp: ControlPlane;
  let node: Node;
  let env: Record<string, string>;
  beforeAll(async () => {
    ({ cp, node } = await controlPlaneWithNode(topic, 'cli-node-1', { tasks: 0, taskMs: 0, agentEnv: { WORKFORCE_HEARTBEAT: '2s' } }));
    env = { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY };
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await cp?.close();
  });

  const nodesJson = async (...flags: string[]) => JSON.parse((await cli(['nodes', topic, '--json', ...flags], env)).stdout) as Array<Record<string, any>>;

  it('shows the real agent: topics counts it active, nodes lists it with its host and worker', async () => {
    await waitFor(async () => (await nodesJson()).some((n) => n.nodeId === 'cli-node-1'), 'the agent in the inventory');
    const topics = await cli(['topics'], env);
    expect(topics).toMatchObject({ code: EXIT.ok, stderr: '' });
    expect(topics.stdout).toMatch(/^TOPIC\s+ACTIVE\s+INTAKE-STOPPED\s+DRAINING\s+DRAINED\s+STALE\s+OFFLINE\s+TOTAL\s+BUDGET\s+RUNNING DRAINS$/m);
    expect(topics.stdout).toMatch(/^fleet-cli\s+1\s+0\s+0\s+0\s+0\s+0\s+1\s+-\s+-$/m);
    expect(JSON.parse((await cli(['topics', '--json'], env)).stdout).find((t: { name: string }) => t.name === topic)).toMatchObject({ nodes: { active: 1, total: 1 }, runningDrains: [] });

    const nodes = await cli(['nodes', topic], env);
    expect(nodes).toMatchObject({ code: EXIT.ok, stderr: '' });
    const lines = nodes.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('1 node on fleet-cli: 1 active');
    expect(lines[2]).toMatch(new RegExp(`^cli-node-1\\s+active\\s+\\S+\\s+\\S+ ago\\s+-\\s+\\S+\\s+${os.hostname()}\\s+1/1 alive: cli-node-1-w0 \\(pid \\d+\\)$`));
    const [json] = await nodesJson();
    expect(json).toMatchObject({ nodeId: 'cli-node-1', state: 'active', stale: false, workerCount: 1, hostName: os.hostname(), workers: [{ workerId: 'cli-node-1-w0', alive: true }] });
    expect(await cli(['nodes', topic, '--state', 'drained'], env)).toMatchObject({ code: EXIT.ok, stdout: 'no drained nodes on fleet-cli\n' });
    expect((await cli(['nodes', 'fleet-cli-nope'], env)).stdout).toBe('no nodes: topic fleet-cli-nope does not exist (create it with `workforce topic ensure fleet-cli-nope`; `workforce topics` lists them)\n');
  });

  it('marks a node that stopped heartbeating stale (yellow on a terminal), and prints its hostile text inert', async () => {
    // Escape sequences in a report's host name: clear the screen, retitle the terminal.
    await sendPresence(cp.sb, [presenceReport(topic, 'ghost-1', { heartbeatSeconds: 1, hostName: 'ghost\x1b[2J\x1b]0;owned\x07' })]);
    await waitFor(async () => (await nodesJson('--state', 'stale')).some((n) => n.nodeId === 'ghost-1'), 'ghost-1 to be stale');
    const r = await cli(['nodes', topic], env, { isTTY: true });
    expect(r.code).toBe(EXIT.ok);
    const ghost = r.stdout.split('\n').find((l) => l.includes('ghost-1'))!;
    expect(ghost).toMatch(/^\x1b\[33mghost-1\s+stale \(was active\)\s.*ghost\\u001b\[2J\\u001b\]0;owned\\u0007.*\x1b\[0m$/);
    // Our own colour codes are the only escape sequences that reach the terminal.
    expect(r.stdout.replaceAll('\x1b[33m', '').replaceAll('\x1b[0m', '')).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect((await cli(['nodes', topic, '--state', 'stale'], env)).stdout).toMatch(/^1 node on fleet-cli in state stale: 1 stale\n/);
  });

  it('--watch follows the nodes until Ctrl-C (exit 130); with --json one line of JSON per change', async () => {
    const watched = await cliProcess(['nodes', topic, '--watch', '--interval', '200ms'], env, (out, child) => {
      if (out.includes('cli-node-1')) child.kill('SIGINT');
    });
    expect(watched.code).toBe(130);
    expect(watched.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ 2 nodes on fleet-cli: /);
    expect(watched.stderr).toContain('stopped watching');
    const json = await cliProcess(['nodes', topic, '--watch', '--json', '--interval', '200ms'], env, (out, child) => {
      if (out.includes('\n')) child.kill('SIGINT');
    });
    expect(json.code).toBe(130);
    const first = JSON.parse(json.stdout.split('\n')[0]!);
    expect(first.nodes.map((n: { nodeId: string }) => n.nodeId).sort()).toEqual(['cli-node-1', 'ghost-1']);
  });

  it('a drain no node can take says why: status and drain --wait print the hint', async () => {
    // The agent drains once; drained, it takes no control message until `workforce-agent reset`.
    const first = await cli(['drain', topic, '--count', '1', '--wait', '--interval', '200ms'], env);
    expect(first.code).toBe(EXIT.ok);
    await waitFor(async () => (await nodesJson('--state', 'drained')).some((n) => n.nodeId === 'cli-node-1'), 'cli-node-1 drained in the inventory');

    const live = { stdout: '' };
    const waiting = cli(['drain', topic, '--count', '1', '--wait', '--interval', '200ms', '--reason', 'nobody home'], env, { live });
    const hint = /^ {2}hint: 1 message untaken, it expires at \d\d:\d\d:\d\dZ; fleet-cli has 0 active or intake-stopped nodes online: 1 drained, 1 stale \(a drained node takes no control message until `workforce-agent reset`\)$/m;
    // The counts behind the hint are kept a few seconds: an earlier line may say what was true then.
    await waitFor(() => hint.test(live.stdout), 'drain --wait to print the hint');
    const drainId = /^drain (\S+) started$/m.exec(live.stdout)![1]!;
    const status = await cli(['status', drainId], env);
    expect(status.code).toBe(EXIT.ok);
    expect(status.stdout).toMatch(hint);
    expect((await cp.api('GET', `drains/${drainId}`)).body.hint).toMatch(/^1 message untaken/);
    expect((await cli(['topics'], env)).stdout).toMatch(new RegExp(`^fleet-cli\\s+0\\s+0\\s+0\\s+1\\s+1\\s+0\\s+2\\s+-\\s+${drainId} \\(graceful-downscale x1\\)$`, 'm'));
    expect((await cli(['cancel', drainId], env)).code).toBe(EXIT.ok);
    expect((await waiting).code).toBe(EXIT.cancelled);
  });
});
