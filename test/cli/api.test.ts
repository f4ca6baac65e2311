import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_GRACE_MS } from '../../src/domain/drain-end.js';
import { EXPIRY_MARGIN_MS } from '@workforce/worker-agent/contract';
import { EXIT } from '../../src/cli/errors.js';
import { report, sendReports, takeControlMessages } from '../support/agents.js';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { cli, cliProcess } from './run-cli.js';

/**
 * The CLI against the local system (emulator + host with the app's sources): provisioning, drains
 * followed to each end (reports sent as agents send them; the host's manual clock for timeouts),
 * JSON output, the API's refusals, and `send` straight to Service Bus.
 */
describe('workforce against the local control plane', () => {
  let cp: ControlPlane;
  let env: Record<string, string>;
  beforeAll(async () => {
    cp = await startControlPlane();
    env = { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY };
  }, 60_000);
  afterAll(async () => {
    await cp?.close();
  });

  const drainState = async (id: string) => (await cp.api('GET', `drains/${id}`)).body;

  it('topic ensure provisions once, then says everything existed (text and --json)', async () => {
    const first = await cli(['topic', 'ensure', 'cli-a'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/topic\s+cli-a\s+created/);
    expect(first.stdout).toContain('topic cli-a is ready');
    const again = await cli(['topic', 'ensure', 'cli-a', '--json'], env);
    expect(again.code).toBe(0);
    const body = JSON.parse(again.stdout);
    expect(body.topic).toBe('cli-a');
    expect(body.entities.map((e: { outcome: string }) => e.outcome)).toEqual(['existed', 'existed', 'existed', 'existed']);
  });

  it('drain --wait follows a drain to completion and exits 0; --json prints the final status', async () => {
    await cli(['topic', 'ensure', 'cli-b'], env);
    const feed = (async () => {
      const [msg] = await takeControlMessages(cp.sb, 'cli-b', 1, 15_000);
      const drainId = (msg!.body as { drainId: string }).drainId;
      await sendReports(cp.sb, [report(drainId, 1, 'node-1', 'accepted', 'cli-b')]);
      await waitFor(async () => (await drainState(drainId)).counts?.accepted === 1, 'the accept to be folded');
      await sendReports(cp.sb, [report(drainId, 1, 'node-1', 'signalled', 'cli-b'), report(drainId, 1, 'node-1', 'drained', 'cli-b')]);
    })();
    const r = await cli(['drain', 'cli-b', '--count', '1', '--deadline', '1h', '--reason', 'cli test', '--wait', '--json', '--interval', '100ms'], env);
    await feed;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
    const final = JSON.parse(r.stdout);
    expect(final).toMatchObject({ status: 'completed', topic: 'cli-b', reason: 'cli test', counts: { requested: 1, drained: 1 } });
    expect(final.progress.nodes['node-1'].state).toBe('drained');
  });

  it('without a TTY --wait prints one line per change, ending with the outcome', async () => {
    const live = { stdout: '' };
    await cli(['topic', 'ensure', 'cli-c'], env);
    const feed = (async () => {
      const [msg] = await takeControlMessages(cp.sb, 'cli-c', 1, 15_000);
      const drainId = (msg!.body as { drainId: string }).drainId;
      await sendReports(cp.sb, [report(drainId, 1, 'node-9', 'accepted', 'cli-c')]);
      await waitFor(async () => (await drainState(drainId)).counts?.accepted === 1, 'the accept to be folded');
      await sendReports(cp.sb, [report(drainId, 1, 'node-9', 'signalled', 'cli-c')]);
      await waitFor(() => live.stdout.includes('draining 1'), 'the CLI to show the node draining');
      await sendReports(cp.sb, [report(drainId, 1, 'node-9', 'drained', 'cli-c')]);
    })();
    const r = await cli(['drain', 'cli-c', '--count', '1', '--wait', '--interval', '100ms'], env, { live });
    await feed;
    expect(r.code).toBe(EXIT.ok);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^drain \S+ started$/);
    expect(r.stdout).toMatch(/running · 0\/1 drained · accepted 1 · draining 1/);
    expect(r.stdout).toMatch(/completed · 1\/1 drained/);
    // one line per change: no two consecutive progress lines alike
    const progress = lines.filter((l) => /^\d{4}-/.test(l)).map((l) => l.replace(/^\S+ /, ''));
    expect(new Set(progress).size).toBe(progress.length);
    // the end says the counts once (the last change line), not again in the closing block
    expect(r.stdout.match(/1\/1 drained/g)).toHaveLength(1);
  });

  it('on a terminal --wait redraws the progress block in place, naming the unfinished node', async () => {
    const live = { stdout: '' };
    await cli(['topic', 'ensure', 'cli-tty'], env);
    const feed = (async () => {
      const [msg] = await takeControlMessages(cp.sb, 'cli-tty', 1, 15_000);
      const drainId = (msg!.body as { drainId: string }).drainId;
      await sendReports(cp.sb, [report(drainId, 1, 'node-t', 'accepted', 'cli-tty'), report(drainId, 1, 'node-t', 'signalled', 'cli-tty')]);
      await waitFor(() => /node-t\s+draining.*pid 1001/.test(live.stdout), 'the CLI to show the node draining');
      await sendReports(cp.sb, [report(drainId, 1, 'node-t', 'drained', 'cli-tty')]);
    })();
    const r = await cli(['drain', 'cli-tty', '--count', '1', '--deadline', '1h', '--wait', '--interval', '100ms'], env, { isTTY: true, live });
    await feed;
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/\x1b\[\d+A\x1b\[0J/); // cursor up, clear: redrawn in place
    expect(r.stdout).toMatch(/node-t\s+draining\s+for \d+\S*\s+node-t-w \(pid 1001\)/);
    expect(r.stdout).toMatch(/deadline \S+ \(in (59m|1h)/);
    expect(r.stdout.split(/\x1b\[\d+A\x1b\[0J/).at(-1)).toMatch(/^drain \S+ on cli-tty \(graceful-downscale\): completed\n {2}1\/1 drained/);
  });

  it('cancel ends a running drain: exit 0, then status --watch exits 5; a second cancel is refused (6)', async () => {
    await cli(['topic', 'ensure', 'cli-e'], env);
    const { drainId } = JSON.parse((await cli(['drain', 'cli-e', '--count', '1', '--json'], env)).stdout);
    const c = await cli(['cancel', drainId, '--reason', 'changed my mind'], env);
    expect(c).toMatchObject({ code: 0, stderr: '' });
    expect(c.stdout).toContain(`drain ${drainId}: cancel requested`);
    const w = await cli(['status', drainId, '--watch', '--interval', '100ms', '--json'], env);
    expect(w.code).toBe(EXIT.cancelled);
    expect(JSON.parse(w.stdout)).toMatchObject({ drainId, status: 'cancelled' });
    const again = await cli(['cancel', drainId], env);
    expect(again.code).toBe(EXIT.refused);
    expect(again.stderr).toMatch(/answered 409: drain \S+ was already cancelled by \S+; there is nothing to cancel/);
    expect(again.stderr).not.toMatch(/Completed/);
  });

  it('Ctrl-C while watching exits 130 and says the drain goes on and how to follow it', async () => {
    await cli(['topic', 'ensure', 'cli-g'], env);
    const { drainId } = JSON.parse((await cli(['drain', 'cli-g', '--count', '1', '--json'], env)).stdout);
    let sent = false;
    const r = await cliProcess(['status', drainId, '--watch'], env, (stdout, child) => {
      if (!sent && stdout.includes(drainId)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`stopped watching; drain ${drainId} goes on — follow it: workforce status ${drainId} --watch · stop it: workforce cancel ${drainId}`);
    expect((await drainState(drainId)).status).toBe('running');
    await cli(['cancel', drainId], env);
  });

  it('drains lists them newest first (table and --json), filtered by topic and status', async () => {
    const table = await cli(['drains', '--topic', 'cli-e'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^DRAIN\s+TOPIC\s+MODE\s+STATUS/);
    expect(table.stdout).toMatch(/cli-e\s+graceful-downscale\s+cancelled/);
    const json = JSON.parse((await cli(['drains', '--status', 'completed', '--json'], env)).stdout) as Array<{ topic: string; status: string }>;
    expect(json.map((d) => d.topic).sort()).toEqual(['cli-b', 'cli-c', 'cli-tty']);
    expect(json.every((d) => d.status === 'completed')).toBe(true);
  });

  it('the API refusing says what to do: no key, wrong key, unknown drain, invalid field (exit 6)', async () => {
    const noKey = await cli(['drains'], { WORKFORCE_API_URL: cp.host.url });
    expect(noKey.code).toBe(EXIT.refused);
    expect(noKey.stderr).toMatch(/answered 401.*pass --key or set WORKFORCE_API_KEY/);
    const wrongKey = await cli(['drains', '--key', 'nope'], { WORKFORCE_API_URL: cp.host.url });
    expect(wrongKey.code).toBe(EXIT.refused);
    // the host's own words say the key was refused, not that one is needed
    expect(wrongKey.stderr).toMatch(/answered 401: Function listDrains refused the key presented: it is not a function key of this host — the API refused the key/);
    const missing = await cli(['status', 'no-such-drain'], env);
    expect(missing.code).toBe(EXIT.refused);
    expect(missing.stderr).toMatch(/answered 404: no drain with id no-such-drain — list the drains with `workforce drains`/);
    const bad = await cli(['drain', 'bad topic!', '--count', '1'], env);
    expect(bad.code).toBe(EXIT.refused);
    expect(bad.stderr).toMatch(/answered 400: topic "bad topic!" is not a valid Service Bus topic name/);
    const badId = await cli(['drain', 'cli-a', '--count', '1', '--drain-id', 'victim/terminate?reason=x&'], env);
    expect(badId.code).toBe(EXIT.refused);
    expect(badId.stderr).toMatch(/answered 400: drainId "victim\/terminate\?reason=x&" must be 1-64 letters, digits.* — check --drain-id$/m);
  });

  it('a defaulted notAfter ends with a deadline sooner than 15 minutes; only an explicit later one is refused', async () => {
    await cli(['topic', 'ensure', 'cli-h'], env);
    const ok = await cp.api('POST', 'topics/cli-h/drains', { count: 1, gracePeriod: '10m' });
    expect(ok.status).toBe(202);
    expect(ok.body.spec.notAfter).toBe(ok.body.spec.deadline);
    const refused = await cp.api('POST', 'topics/cli-h/drains', { count: 1, gracePeriod: '10m', ackTimeout: '11m' });
    expect(refused).toMatchObject({ status: 400, body: { field: 'ackTimeout', detail: expect.stringContaining('must not end after the deadline') } });
    for (const { drainId } of [ok.body]) await cli(['cancel', drainId], env);
  });

  it('drains --topic of a topic that does not exist says so', async () => {
    const r = await cli(['drains', '--topic', 'cli-nope'], env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('no drains: topic cli-nope does not exist (create it with `workforce topic ensure cli-nope`; `workforce drains` lists every topic\'s)\n');
    await cli(['topic', 'ensure', 'cli-empty'], env);
    expect((await cli(['drains', '--topic', 'cli-empty'], env)).stdout).toBe('no drains\n');
    expect((await cli(['drains', '--topic', 'CLI-Empty'], env)).stdout).toBe('no drains\n'); // Service Bus names ignore case
  });

  it('send publishes the control plane\'s messages straight to Service Bus (ids, subject, TTL)', async () => {
    await cli(['topic', 'ensure', 'cli-f'], env);
    const r = await cliProcess(['send', 'cli-f', '--operation', 'do-not-accept-new-tasks', '--count', '3', '--not-after', '10m', '--reason', 'maintenance', '--drain-id', 'manual-1', '--json'], {
      WORKFORCE_SERVICEBUS_CONNECTION_STRING: cp.bus.emulator.connectionString,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ topic: 'cli-f', drainId: 'manual-1', messageIds: ['manual-1/1', 'manual-1/2', 'manual-1/3'] });
    const got = await takeControlMessages(cp.sb, 'cli-f', 3);
    expect(got.map((m) => m.messageId).sort()).toEqual(['manual-1/1', 'manual-1/2', 'manual-1/3']);
    for (const m of got) {
      expect(m.subject).toBe('do-not-accept-new-tasks');
      expect(m.contentType).toBe('application/json');
      expect(m.body).toMatchObject({ operation: 'do-not-accept-new-tasks', drainId: 'manual-1', reason: 'maintenance' });
      const ttl = Date.parse((m.body as { notAfter: string }).notAfter) - Date.now();
      expect(m.timeToLive).toBeGreaterThan(ttl - 60_000);
      expect(m.timeToLive).toBeLessThanOrEqual(10 * 60_000 + EXPIRY_MARGIN_MS);
    }
  });

  it('send without --not-after still sets one (15 minutes) and the TTL that goes with it', async () => {
    await cli(['topic', 'ensure', 'cli-g'], env);
    const before = Date.now();
    const r = await cliProcess(['send', 'cli-g', '--operation', 'graceful-downscale', '--count', '1', '--drain-id', 'manual-2'], {
      WORKFORCE_SERVICEBUS_CONNECTION_STRING: cp.bus.emulator.connectionString,
    });
    expect(r.code).toBe(0);
    const [m] = await takeControlMessages(cp.sb, 'cli-g', 1);
    const notAfter = Date.parse((m!.body as { notAfter: string }).notAfter);
    expect(notAfter).toBeGreaterThanOrEqual(before + 15 * 60_000);
    expect(notAfter).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    expect(m!.timeToLive).toBeLessThanOrEqual(15 * 60_000 + EXPIRY_MARGIN_MS);
  });

  it('send with the bus down says Service Bus cannot be reached (exit 3)', async () => {
    const down = cp.bus.emulator.connectionString.replace(/Endpoint=sb:\/\/[^;]+/, 'Endpoint=sb://127.0.0.1:1');
    const r = await cli(['send', 'cli-f', '--operation', 'graceful-downscale', '--count', '1', '--connection-string', down]);
    expect(r.code).toBe(EXIT.unreachable);
    expect(r.stderr).toContain('send to cli-f failed: Service Bus cannot be reached at 127.0.0.1:1 (ECONNREFUSED)');
    expect(r.stderr).not.toMatch(/role/);
  });

  it('send with a key the bus refuses says so, with the SDK\'s code and message (exit 6)', async () => {
    await cli(['topic', 'ensure', 'cli-k'], env);
    const wrong = cp.bus.emulator.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=d3Jvbmc=');
    const r = await cli(['send', 'cli-k', '--operation', 'graceful-downscale', '--count', '1', '--connection-string', wrong]);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stderr).toMatch(/^workforce: send to cli-k failed: UnauthorizedAccess: \S.* — check the connection string or namespace and your role/m);
  });

  it('send to a topic that does not exist says to create it', async () => {
    const r = await cli(['send', 'cli-missing', '--operation', 'graceful-downscale', '--count', '1', '--connection-string', cp.bus.emulator.connectionString]);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stderr).toContain('send to cli-missing failed: topic cli-missing does not exist — create it with `workforce topic ensure cli-missing`');
  });

  // These move the host's clock far ahead, so they run last.
  it('a drain nobody takes times out: status --watch exits 4', async () => {
    await cli(['topic', 'ensure', 'cli-d'], env);
    const started = await cli(['drain', 'cli-d', '--count', '2', '--not-after', '5m', '--json'], env);
    expect(started.code).toBe(0);
    const { drainId, spec } = JSON.parse(started.stdout);
    const r = await cli(['status', drainId, '--watch', '--interval', '100ms'], env, {
      // Move the host's clock past notAfter + the report grace while the CLI polls.
      onSleep: async () => {
        if (cp.clock.now() < Date.parse(spec.notAfter) + REPORT_GRACE_MS + 1_000) await cp.clock.set(Date.parse(spec.notAfter) + REPORT_GRACE_MS + 1_000);
      },
    });
    expect(r.code).toBe(EXIT.timedOut);
    expect(r.stdout).toMatch(/timed-out · 0\/2 drained/);
    // status (no --watch) of an ended drain exits with the drain's code too
    expect((await cli(['status', drainId], env)).code).toBe(EXIT.timedOut);
  });

  it('a drain on a topic that does not exist is refused at once, saying how to create it', async () => {
    const r = await cli(['drain', 'cli-never-provisioned', '--count', '1', '--wait'], env);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stderr).toContain('answered 404: no topic cli-never-provisioned on the Service Bus namespace: create it with `workforce topic ensure cli-never-provisioned`');
    expect(r.stderr).not.toContain('PUT /api/topics');
  });

  it('a drain whose messages cannot be published fails: --wait exits 1 and says why', async () => {
    // The topic takes messages of 1 KB at most and this drain's is larger: the publish activity
    // fails on every retry (2 s, 4 s, … on the host's clock).
    cp.bus.emulator.catalogue.putTopic('cli-tiny-messages', { maxMessageSizeInBytes: 1_024 });
    const long = ['--reason', 'r'.repeat(1_000), '--requested-by', 'q'.repeat(1_000)];
    const r = await cli(['drain', 'cli-tiny-messages', '--count', '1', ...long, '--wait', '--interval', '100ms'], env, {
      onSleep: async () => {
        await cp.clock.advance(30_000);
      },
    });
    expect(r.code).toBe(EXIT.failed);
    expect(r.stdout).toMatch(/ failed · 0\/1 drained/);
    expect(r.stdout).toMatch(/failed: .+/); // the orchestration's reason
  });
});
