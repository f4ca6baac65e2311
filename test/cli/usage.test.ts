import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/control-plane.js';
import { cli, cliProcess } from './run-cli.js';

/** Bad arguments never reach the network: exit 2 and a message naming the problem. */
describe('workforce: bad usage', () => {
  const cases: Array<[string[], RegExp]> = [
    [['frobnicate'], /unknown command "frobnicate"; the commands are topic, drain, resume, drains, status, cancel, topics, nodes, send/],
    [['drains', '--bogus'], /drains: Unknown option '--bogus'\. See `workforce drains --help`/],
    [['drain'], /drain: missing <topic>/],
    [['drain', 'eu-west'], /--count or --node is required/],
    // Per-node commands (#17): every message names the flag at fault; nothing reaches the API.
    [['drain', 'eu-west', '--count', '2', '--node', 'a'], /--count and --node exclude each other/],
    [['drain', 'eu-west', '--node', 'a', '--node', 'b', '--node', 'A'], /--node "A" is given twice \(as "a": node ids ignore case\)/],
    [['drain', 'eu-west', '--node', 'x'.repeat(129)], /--node "x{129}" is not a node id: it must be 1-128 characters without control characters/],
    [['drain', 'eu-west', '--node', 'evil\u001b[2J'], /--node "evil\\u001b\[2J" is not a node id/],
    [['drain', 'eu-west', '--node', ''], /--node "" is not a node id/],
    [['drain', 'eu-west', ...Array.from({ length: 1001 }, (_, i) => ['--node', `n${i}`]).flat()], /--node is given 1001 times; one command takes at most 1000 nodes/],
    [['drain', 'eu-west', '--node', 'a', '--intake-stop', '--mode', 'graceful-downscale'], /--intake-stop is --mode do-not-accept-new-tasks; it contradicts --mode graceful-downscale/],
    [['drain', 'eu-west', '--node', 'a', '--intake-stop', '--deadline', '1h'], /--deadline applies to graceful-downscale only/],
    [['drain', 'eu-west', '--node', 'a', '--dry-run', '--wait'], /--dry-run sends nothing, so --wait has no drain to follow/],
    [['drain', 'eu-west', '--node', 'a', '--force=yes'], /drain: Option '--force' does not take an argument/],
    [['drain', 'eu-west', '--nodes', 'a'], /drain: Unknown option '--nodes'/],
    [['resume'], /resume: missing <topic>/],
    [['resume', 'eu-west'], /--node or --all is required/],
    [['resume', 'eu-west', '--node', 'a', '--all'], /--node and --all exclude each other/],
    [['resume', 'eu-west', '--all', '--force'], /resume: Unknown option '--force'/],
    [['resume', 'eu-west', '--node', 'a', '--node', 'a'], /--node "a" is given twice/],
    [['resume', 'eu-west', '--all', '--not-after', 'later'], /--not-after must be a duration such as 30m/],
    [['topic', 'policy'], /topic policy: missing <topic>/],
    [['topic', 'policy', 'eu-west', '--max-unavailable', '-1'], /--max-unavailable must be a whole number of nodes \(e\.g\. 5\) or a percentage from 0% to 100% \(e\.g\. 20%\), got "-1"/],
    [['topic', 'policy', 'eu-west', '--max-unavailable', '101%'], /--max-unavailable must be .*got "101%"/],
    [['topic', 'policy', 'eu-west', '--max-unavailable', '2.5'], /--max-unavailable must be .*got "2\.5"/],
    [['topic', 'policy', 'eu-west', '--max-unavailable', 'twenty'], /--max-unavailable must be .*got "twenty"/],
    [['topic', 'policy', 'eu-west', '--max-unavailable', '5', '--clear'], /--max-unavailable and --clear exclude each other/],
    [['drain', 'eu-west', '--count', '0'], /--count must be a whole number of at least 1, got "0"/],
    // a value starting with "-" is the flag's value, so the message says what --count accepts
    [['drain', 'eu-west', '--count', '-1'], /--count must be a whole number of at least 1, got "-1"/],
    [['send', 'eu-west', '--operation', 'graceful-downscale', '--count', '-1'], /--count must be a whole number of at least 1, got "-1"/],
    [['drain', 'eu-west', '--reason', '--help'], /drain: Option '--reason' argument is ambiguous/],
    // checked before any request (nothing serves the default API here), in the CLI's flags
    [['drain', 'eu-west', '--count', '2', '--deadline', '2h', '--not-after', '3h'], /--not-after 3h ends after --deadline 2h: .*give a --not-after no later than the --deadline, or leave it out/],
    [['drain', 'eu-west', '--count', '2', '--deadline', 'soon'], /--deadline must be a duration such as 30m, 2h or 1h30m, got "soon"/],
    [['drain', 'eu-west', '--count', '2', '--mode', 'nap'], /--mode must be one of graceful-downscale, do-not-accept-new-tasks, got "nap"/],
    [['drain', 'eu-west', '--count', '2', '--mode', 'do-not-accept-new-tasks', '--deadline', '1h'], /--deadline applies to graceful-downscale only/],
    [['nodes'], /nodes: missing <topic>/],
    [['nodes', 'eu-west', '--state', 'asleep'], /--state must be one of active, intake-stopped, draining, drained, stale, offline, got "asleep"/],
    [['nodes', 'eu-west', '--watch', '--interval', 'often'], /--interval must be a duration such as 30m, 2h or 1h30m, got "often"/],
    [['topics', 'eu-west'], /topics: unexpected argument "eu-west"/],
    [['drains', '--status', 'sleeping'], /--status must be one of running, completed, timed-out, cancelled, failed/],
    [['status', 'a', 'b'], /status: unexpected argument "b"/],
    [['topic', 'delete', 'x'], /topic: unknown subcommand "delete"/],
    [['drains', '--api', 'not a url'], /--api "not a url" is not a URL/],
    [['drains', '--timeout', '0'], /--timeout must be a duration such as 30s, 2m or 500ms, got "0"/],
    [['drain', 'eu-west', '--count', '1', '--timeout', 'soon'], /--timeout must be a duration such as 30s, 2m or 500ms, got "soon"/],
    [['send', 'eu-west', '--count', '1'], /--operation is required/],
    [['send', 'eu-west', '--operation', 'graceful-downscale', '--count', '1'], /send needs Service Bus: pass --connection-string/],
    [['send', 'eu-west', '--operation', 'graceful-downscale', '--count', '1', '--namespace', 'my ns:5671'], /--namespace "my ns:5671" is not a namespace/],
    // The drain id goes into the control plane's durable URLs when agents report it back.
    [['send', 'eu-west', '--operation', 'graceful-downscale', '--count', '1', '--drain-id', 'victim/terminate?reason=x&'], /--drain-id "victim\/terminate\?reason=x&" must be 1-64 letters, digits/],
  ];
  for (const [argv, message] of cases) {
    const shown = argv.join(' ');
    it(`${shown.length > 100 ? `${shown.slice(0, 100)}… (${argv.length} arguments)` : shown} → exit 2`, async () => {
      const r = await cli(argv);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    });
  }

  it('a WORKFORCE_API_TIMEOUT that is no duration is named (exit 2); --timeout wins over it', async () => {
    const r = await cli(['drains'], { WORKFORCE_API_TIMEOUT: '30' });
    expect(r).toMatchObject({ code: 2, stderr: 'workforce: WORKFORCE_API_TIMEOUT must be a duration such as 30s, 2m or 500ms, got "30"\n' });
    expect((await cli(['drains', '--timeout', 'x'], { WORKFORCE_API_TIMEOUT: '30' })).stderr).toContain('--timeout must be a duration');
  });

  it('--version and --help answer for the CLI and every command, exit 0', async () => {
    const version = /^workforce 0\.1\.0 \(node v\d+\.\d+\.\d+\)\n$/;
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(version), stderr: '' });
    for (const command of [['topic'], ['topic', 'ensure'], ['topic', 'policy'], ['drain'], ['resume'], ['drains'], ['status'], ['cancel'], ['send']]) {
      const v = await cli([...command, '--version']);
      expect(v, command.join(' ')).toMatchObject({ code: 0, stdout: expect.stringMatching(version), stderr: '' });
      const h = await cli([...command, '--help']);
      expect(h, command.join(' ')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^workforce \w+/), stderr: '' });
      expect(await cli(['help', command[0]!])).toEqual(await cli([command[0]!, '--help']));
    }
  });

  it('--help prints the usage and exits 0; no command prints it and exits 2', async () => {
    expect(await cli(['--help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('Exit codes:') });
    expect(await cli(['drain', '--help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('--not-after D') });
    expect(await cli(['--help'])).toMatchObject({ stdout: expect.stringContaining("8 the topic's safety budget refused the drain") });
    expect((await cli(['drain', '--help'])).stdout).toMatch(/--node ID[\s\S]*--intake-stop[\s\S]*--dry-run[\s\S]*--force/);
    expect((await cli(['resume', '--help'])).stdout).toMatch(/--node ID[\s\S]*--all[\s\S]*--dry-run/);
    expect((await cli(['topic', 'policy', '--help'])).stdout).toMatch(/--max-unavailable N[\s\S]*--clear/);
    expect(await cli([])).toMatchObject({ code: 2, stdout: expect.stringContaining('workforce topic ensure') });
  });

  // npm install links it into node_modules/.bin (scripts/link-bin.mjs); were it the root
  // package's own "bin", npx would install the project into its cache first (--no-install: fail).
  it('`npx workforce` runs bin/workforce.js from node_modules/.bin at once', async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('npx', ['--no-install', 'workforce', '--help'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => resolve({ code, out }));
    });
    expect(r.out).toContain('workforce — drain batch worker nodes gracefully');
    expect(r.code).toBe(0);
  });

  it('an API nobody serves exits 3 and asks whether `npm start` runs', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const r = await cliProcess(['drains', '--api', `http://127.0.0.1:${port}`]);
    // refused connections are retried (a host restarting), so it says how often it tried
    expect(r.stderr).toContain(`cannot reach http://127.0.0.1:${port} (ECONNREFUSED, 4 attempts) — is \`npm start\` running?`);
    expect(r.code).toBe(3);
  });
});
