// The chaos harness checks itself: a proxy that does not stall, or a bait that does not notice a
// signal, would make every chaos run pass for nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Bait } from './bait.js';
import { makePlan } from './plan.js';
import { ChaosProxy } from './proxy.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoServer(): Promise<number> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve({ socket, received: () => data, closed }));
    let data = '';
    socket.on('data', (d) => (data += String(d)));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('error', () => {});
    cleanups.push(() => socket.destroy());
  });
}

const until = async (p: () => boolean) => {
  while (!p()) await new Promise((r) => setTimeout(r, 10));
};

describe('ChaosProxy', () => {
  it('forwards, holds bytes while stalled and delivers them afterwards, and cuts connections', async () => {
    const proxy = await new ChaosProxy('t', await echoServer()).listen();
    cleanups.push(() => proxy.close());
    const c = await connect(proxy.port);
    c.socket.write('a');
    await until(() => c.received() === 'a');

    proxy.stall(600_000);
    c.socket.write('b');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.received()).toBe('a'); // held
    proxy.unstall();
    await until(() => c.received() === 'ab'); // delivered after the stall

    proxy.cut();
    await c.closed;
  });

  it('sends new connections to the new target after retarget', async () => {
    const proxy = await new ChaosProxy('t', 1).listen();
    cleanups.push(() => proxy.close());
    proxy.retarget(await echoServer());
    const c = await connect(proxy.port);
    c.socket.write('x');
    await until(() => c.received() === 'x');
  });
});

describe('Bait', () => {
  it('logs a signal sent to it, and plants stale PID files that name it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bait-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const bait = new Bait(join(dir, 'signals.log'));
    cleanups.push(() => bait.kill());
    bait.plant(dir, 'topic', 'json-wrong-start');
    bait.plant(dir, 'topic', 'legacy-older');
    expect(JSON.parse(readFileSync(join(dir, 'ghost-json-wrong-start.pid'), 'utf8'))).toMatchObject({ pid: bait.pid, topic: 'topic' });
    expect(readFileSync(join(dir, 'ghost-legacy-older.pid'), 'utf8')).toBe(String(bait.pid));
    await new Promise((r) => setTimeout(r, 100)); // its traps are set
    expect(bait.violations()).toEqual([]);
    process.kill(bait.pid, 'SIGUSR2');
    await until(() => bait.violations().length > 0);
    expect(bait.violations()).toEqual([`bait pid ${bait.pid} got SIGUSR2`]);
  });
});

describe('makePlan', () => {
  it('is a function of the seed, and leaves a node undrained unless it overasks on purpose', () => {
    expect(makePlan(42, 10)).toEqual(makePlan(42, 10));
    expect(makePlan(42, 10)).not.toEqual(makePlan(43, 10));
    let intakeRuns = 0;
    for (let seed = 0; seed < 200; seed++) {
      const plan = makePlan(seed, 10);
      const graceful = plan.drains.filter((d) => d.mode === 'graceful-downscale');
      const normal = graceful.filter((d) => !d.overask).reduce((s, d) => s + d.count, 0);
      expect(normal).toBeLessThan(10);
      // At most one intake stop, never with an overasking drain, and satisfiable however the
      // graceful drains fall (a node holding it may still drain, not the other way round).
      const intake = plan.drains.filter((d) => d.mode === 'do-not-accept-new-tasks' && !d.nodes);
      expect(intake.length).toBeLessThanOrEqual(1);
      if (intake.length === 0) continue;
      intakeRuns++;
      expect(graceful.some((d) => d.overask)).toBe(false);
      expect(intake[0]!.count).toBeGreaterThanOrEqual(1);
      // Nodes a targeted intake stop names are not counted on.
      const stopped = plan.drains.find((d) => d.mode === 'do-not-accept-new-tasks' && d.nodes)?.count ?? 0;
      expect(intake[0]!.count).toBeLessThanOrEqual(10 - normal - stopped);
    }
    expect(intakeRuns).toBeGreaterThan(20); // about 20 % of the runs (fewer beside commands)
    expect(intakeRuns).toBeLessThan(80);
  });

  it('gives half the runs per-node commands: named nodes of the fleet, the resume last, never with an overasking drain', () => {
    let commandRuns = 0;
    let resumes = 0;
    for (let seed = 0; seed < 200; seed++) {
      const plan = makePlan(seed, 10);
      const targeted = plan.drains.filter((d) => d.nodes);
      if (targeted.length === 0) {
        if (!plan.inventory) expect(plan.resumeFaults).toEqual([]);
        continue;
      }
      commandRuns++;
      expect(plan.drains.some((d) => d.overask)).toBe(false);
      for (const d of targeted) {
        expect(new Set(d.nodes).size).toBe(d.count);
        for (const i of d.nodes!) expect(i >= 0 && i < 10).toBe(true);
      }
      const resume = plan.drains.findIndex((d) => d.mode === 'resume');
      if (resume >= 0) {
        resumes++;
        expect(resume).toBe(plan.drains.length - 1);
        expect(plan.resumeFaults.length).toBeGreaterThan(0);
        for (const kind of ['restart-emulator', 'restart-host']) expect(plan.resumeFaults.filter((f) => f.kind === kind).length).toBeLessThanOrEqual(1);
      }
    }
    expect(commandRuns).toBeGreaterThan(70);
    expect(commandRuns).toBeLessThan(130);
    expect(resumes).toBeGreaterThan(40);
  });

  it('gives a resume of all intake-stopped nodes only to runs that planned an intake stop and no resume, with the fleet inventory', () => {
    let resumeAll = 0;
    for (let seed = 0; seed < 400; seed++) {
      const plan = makePlan(seed, 10);
      const all = plan.drains.filter((d) => d.all);
      expect(plan.inventory).toBe(all.length > 0);
      if (all.length === 0) continue;
      resumeAll++;
      expect(all.length).toBe(1);
      // Last, with no nodes of its own, beside an intake stop and no other resume.
      expect(plan.drains.at(-1)).toBe(all[0]);
      expect(all[0]!.mode).toBe('resume');
      expect(all[0]!.nodes).toBeUndefined();
      expect(plan.drains.filter((d) => d.mode === 'resume').length).toBe(1);
      expect(plan.drains.some((d) => d.mode === 'do-not-accept-new-tasks')).toBe(true);
      // Its faults name the nodes it will take by their rank in its answer.
      expect(plan.resumeFaults.length).toBeGreaterThan(0);
      for (const f of plan.resumeFaults) if (f.kind === 'kill-agent' || f.kind === 'stall-on-accept') expect(typeof f.node).toBe('object');
    }
    expect(resumeAll).toBeGreaterThan(40); // about a quarter of the runs
    expect(resumeAll).toBeLessThan(160);
    // The CI seeds' plans are drawn as before: none of them gets one.
    for (const seed of [1, 20, 14]) expect(makePlan(seed, 10).inventory).toBe(false);
  });
});
