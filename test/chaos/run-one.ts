// One seeded chaos run: the emulator (child process, data dir) behind proxies, the Function app
// in the local host, N real nodes; drains posted through the API while the plan's faults fire;
// then every drain must end and the invariants must hold.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import Long from 'long';
import { commandEnvelope, commandsQueueName, controlMessageEnvelope } from '../../worker-agent/src/contract/index.js';
import { buildArtifacts, sleep } from '../../worker-agent/test/helpers.js';
import { startLocalStorage } from '../../scripts/local-storage.js';
import { Bait } from './bait.js';
import { ChaosControlPlane } from './control-plane.js';
import { EmulatorProcess } from './emulator-process.js';
import { ChaosNode } from './fleet.js';
import { standingNow, waitListed } from './inventory.js';
import { checkBus, checkDrains, checkNodes, checkSignals, checkTasks, lastEvent, type DrainOutcome } from './invariants.js';
import { checkCommands } from './command-invariants.js';
import { drainIdOf, LOCK_MS, makePlan, nodeName, type Fault, type FaultNode, type Plan } from './plan.js';
import { ChaosProxy } from './proxy.js';
import { checkResumeAll } from './resume-all-invariants.js';

const REPORTS_QUEUE = 'workforce-reports';
const STEP_TIMEOUT_MS = 120_000;

export interface RunResult {
  seed: number;
  nodes: number;
  ok: boolean;
  violations: string[];
  /** What happened, with ms since the first drain was posted. */
  steps: string[];
  ms: number;
  plan: Plan;
}

/** What is left in one session (a lock still held by a dead agent is waited out, a few times). */
async function peekSession(sb: ServiceBusClient, queue: string, sessionId: string): Promise<ServiceBusReceivedMessage[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await sb.acceptSession(queue, sessionId);
      try {
        return await r.peekMessages(200, { fromSequenceNumber: Long.fromNumber(0) });
      } finally {
        await r.close();
      }
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(LOCK_MS);
    }
  }
}

export async function runOne(seed: number, nodeCount: number, opts: { finalTimeoutMs?: number; log?: (line: string) => void } = {}): Promise<RunResult> {
  const started = Date.now();
  const plan = makePlan(seed, nodeCount);
  const topic = `chaos-${seed}`;
  const root = mkdtempSync(join(tmpdir(), `wf-chaos-${seed}-`));
  const steps: string[] = [];
  let t0 = Date.now();
  const step = (s: string) => {
    const line = `+${Date.now() - t0}ms ${s}`;
    steps.push(line);
    opts.log?.(`[seed ${seed}] ${line}`);
  };
  const violations: string[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const nodesForLogs: ChaosNode[] = [];

  try {
    const artifacts = await buildArtifacts();
    mkdirSync(join(root, 'sb'), { recursive: true });
    const emulator = new EmulatorProcess(join(root, 'sb', 'data'), { topic, reportsQueue: REPORTS_QUEUE, lockMs: LOCK_MS, reportsLockMs: 5_000 });
    mkdirSync(join(root, 'sb', 'data'), { recursive: true });
    cleanups.push(() => emulator.stop());
    await emulator.start();

    const proxies: ChaosProxy[] = [];
    const newProxy = async (name: string) => {
      const p = await new ChaosProxy(name, emulator.port).listen();
      proxies.push(p);
      cleanups.push(() => p.close());
      return p;
    };
    const hostProxy = await newProxy('host');
    // The fleet inventory (Azurite, in memory) only where a resume takes all intake-stopped nodes:
    // the other plans run as they always have.
    const storage = plan.inventory ? await startLocalStorage() : undefined;
    if (storage) cleanups.push(() => storage.close());
    const plane = new ChaosControlPlane(join(root, 'host'), hostProxy, () => emulator.connectionString, storage ? { AzureWebJobsStorage: storage.connectionString } : {});
    cleanups.push(() => plane.close());
    await plane.start();

    const bait = new Bait(join(root, 'bait-signals.log'));
    cleanups.push(() => bait.kill());

    const nodes: ChaosNode[] = [];
    for (let i = 0; i < plan.nodes.length; i++) {
      const id = nodeName(i);
      const node = new ChaosNode(id, join(root, id), topic, REPORTS_QUEUE, await newProxy(id), artifacts, () => emulator.connectionString);
      nodes.push(node);
      nodesForLogs.push(node);
      cleanups.push(() => node.stop());
    }
    // Start in small groups: two busy cores.
    for (let i = 0; i < nodes.length; i += 5) {
      await Promise.all(
        nodes.slice(i, i + 5).map(async (node, j) => {
          const np = plan.nodes[i + j]!;
          np.tasks.forEach((ms, k) => node.queue.enqueue(`task-${String(k).padStart(3, '0')}`, ms));
          for (const kind of np.workers) node.startWorker(kind, `${node.id}-${kind}-${node.workers.length}`);
          await node.waitRegistered(60_000);
          for (const kind of np.stale) bait.plant(node.pidDir, topic, kind);
          await node.startAgent(np.crashAt, () => np.restartDelayMs);
        }),
      );
    }

    // With the inventory, named nodes must be known to it (else 400 UnknownNodes): each agent's
    // `online` presence report has to be folded first.
    if (storage) await waitListed(plane, topic, nodes.length);

    // Drains and faults on one timeline.
    t0 = Date.now();
    step(`fleet up: ${nodes.map((n, i) => `${n.id}[${plan.nodes[i]!.workers.join('+')}${plan.nodes[i]!.crashAt ? ` crash@${plan.nodes[i]!.crashAt}` : ''}${plan.nodes[i]!.stale.length ? ` stale:${plan.nodes[i]!.stale.join('+')}` : ''}]`).join(' ')}`);
    // Drain ids: drainIdOf (a letter per kind of drain, then the plan's index).
    const drains: Array<DrainOutcome & { posted?: Promise<{ deadline?: string; notAfter: string }> }> = plan.drains.map((d, i) => ({
      drainId: drainIdOf(seed, d, i),
      count: d.count,
      mode: d.mode,
      status: undefined,
      ...(d.overask && { overask: true }),
      ...(d.nodes && { targets: d.nodes.map(nodeName) }),
      ...(d.all && { all: true as const }),
    }));
    const timeline: Array<Promise<void>> = [];
    // A step that never ends (a restart that hangs) is a finding, not a reason to wait forever.
    const bounded = (what: string, p: Promise<void>) =>
      Promise.race([
        p,
        sleep(STEP_TIMEOUT_MS).then(() => {
          throw new Error(`${what} did not finish within ${STEP_TIMEOUT_MS / 1000} s`);
        }),
      ]);
    // The faults' window ends windowMs after the timeline's start (the first drain, then the resume phase).
    let base = t0;
    const at = (ms: number, fn: () => Promise<void>, what: string) =>
      timeline.push(
        sleep(Math.max(0, ms - (Date.now() - base)))
          .then(() => bounded(what, fn()))
          .catch((e: unknown) => {
            step(`!! ${String(e)}`);
            violations.push(`${what}: ${String(e)}`);
          }),
      );
    const post = (i: number) => {
      const d = plan.drains[i]!;
      const drain = drains[i]!;
      let resolvePosted!: (v: { deadline?: string; notAfter: string }) => void;
      drain.posted = new Promise((r) => (resolvePosted = r));
      at(d.at, async () => {
        // In a run that overasks, every drain has no deadline (nobody is killed) and a short
        // ackTimeout: which drains fall short depends on who takes which message first, and each
        // must end soon after its surplus messages expire (notAfter + the control plane's grace).
        // An intake stop and a resume have no deadline (they kill nothing).
        const intake = d.mode !== 'graceful-downscale';
        const times = plan.drains.some((x) => x.overask) ? { ackTimeout: '8s' } : intake ? { ackTimeout: '5m' } : { gracePeriod: '10m', ackTimeout: '5m' };
        const what = d.mode === 'resume' ? (d.all ? 'resume all' : 'resume') : `${d.nodes ? 'targeted ' : ''}${d.mode === 'graceful-downscale' ? 'drain' : 'intake stop'}`;
        // Resume all: what each node stood at when asked (every other drain has ended; a node
        // changes now only by this resume, which cannot act before it is started).
        if (d.all) Object.assign(drain, await standingNow(plane, topic, nodes));
        const res =
          d.mode === 'resume'
            ? await plane.api('POST', `topics/${topic}/resume`, { drainId: drain.drainId, ...(d.all ? { all: true } : { nodes: drain.targets }), ...times, reason: `chaos seed ${seed}` }, 60_000)
            : await plane.api('POST', `topics/${topic}/drains`, { drainId: drain.drainId, mode: d.mode, ...(drain.targets ? { nodes: drain.targets } : { count: d.count }), ...times, reason: `chaos seed ${seed}` }, 60_000);
        if (d.all) {
          const answered: string[] | undefined = res.status === 202 ? res.body?.spec?.nodes : undefined;
          drain.answer = { status: res.status, ...(answered && { nodes: answered }), ...(res.body?.detail && { detail: String(res.body.detail) }) };
          if (answered) {
            drain.targets = answered;
            drain.count = answered.length;
          }
          const stopped = Object.keys(drain.asked!).filter((id) => drain.asked![id] === 'intake-stopped');
          step(`POST resume all ${drain.drainId} (intake-stopped now: ${stopped.join(',') || 'none'}${drain.unreachable!.length ? `; stale or offline in the inventory: ${drain.unreachable!.join(',')}` : ''}) → ${res.status}${answered ? ` nodes ${answered.join(',')}` : res.body?.detail ? `: ${res.body.detail}` : ''}`);
        } else {
          step(`POST ${what} ${drain.drainId} ${drain.targets ? `nodes ${drain.targets.join(',')}` : `count ${d.count}`}${d.overask ? ' (overasking: all drains together ask for N or N+1 nodes)' : ''} → ${res.status}`);
          if (res.status !== 202 && res.status !== 409) violations.push(`POST ${what} ${drain.drainId} answered ${res.status}: ${JSON.stringify(res.body)}`);
        }
        const spec = res.body?.spec ?? res.body ?? {};
        resolvePosted({ deadline: spec.deadline, notAfter: spec.notAfter });
      }, `POST ${d.mode} ${drain.drainId}`);
    };
    const resumeAt = plan.drains.findIndex((d) => d.mode === 'resume');
    plan.drains.forEach((_, i) => i !== resumeAt && post(i));
    let emulatorRestarting: Promise<void> = Promise.resolve();
    for (const f of plan.faults) at(f.at, () => fire(f), `fault ${f.kind} at +${f.at} ms`);

    /** The fleet index a fault names; for a resume all's n-th target, once the API answered (undefined: it took none). */
    async function nodeOf(f: FaultNode): Promise<number | undefined> {
      if (typeof f === 'number') return f;
      const resume = drains[resumeAt]!;
      await resume.posted;
      const targets = resume.targets ?? [];
      if (targets.length === 0) {
        step(`no target for a fault: resume all ${resume.drainId} took no node`);
        return undefined;
      }
      const id = targets[(f.resumeTarget - 1) % targets.length];
      const i = nodes.findIndex((n) => n.id === id);
      return i >= 0 ? i : void step(`no target for a fault: resume all took ${id}, not a node of the fleet`);
    }

    async function fire(f: Fault): Promise<void> {
      switch (f.kind) {
        case 'kill-agent': {
          const i = await nodeOf(f.node);
          if (i === undefined) return;
          step(`kill -9 agent of ${nodes[i]!.id} (pid ${nodes[i]!.agent?.pid})`);
          nodes[i]!.killAgent();
          return;
        }
        case 'stall-agent':
          step(`stall ${nodes[f.node]!.id} ↔ emulator for ${f.ms} ms`);
          nodes[f.node]!.proxy.stall(f.ms);
          return;
        case 'stall-on-accept': {
          const i = await nodeOf(f.node);
          if (i === undefined) return;
          const node = nodes[i]!;
          const seen = node.agent?.events().filter((e) => e['event'] === 'message-accepted').length ?? 0;
          const until = base + plan.windowMs;
          step(`armed: stall ${node.id} for ${f.ms} ms when its agent next accepts a message`);
          while (Date.now() < until) {
            if ((node.agent?.events().filter((e) => e['event'] === 'message-accepted').length ?? 0) > seen) {
              step(`${node.id} accepted a message: stall ↔ emulator for ${f.ms} ms`);
              node.proxy.stall(f.ms);
              return;
            }
            await sleep(20);
          }
          return;
        }
        case 'cut-agent':
          step(`cut ${nodes[f.node]!.id} ↔ emulator`);
          nodes[f.node]!.proxy.cut();
          return;
        case 'stall-host':
          step(`stall host ↔ emulator for ${f.ms} ms`);
          hostProxy.stall(f.ms);
          return;
        case 'cut-host':
          step('cut host ↔ emulator');
          hostProxy.cut();
          return;
        case 'restart-emulator': {
          step(`emulator ${f.signal}, down ${f.downMs} ms`);
          emulatorRestarting = (async () => {
            await emulator.restart(f.signal, f.downMs);
            for (const p of proxies) p.retarget(emulator.port);
            step(`emulator back on port ${emulator.port}`);
          })();
          await emulatorRestarting;
          return;
        }
        case 'restart-host':
          step('functions host restart');
          await plane.restart();
          step('functions host back');
          return;
        case 'duplicate': {
          const drain = drains[f.drain]!;
          const spec = await drain.posted!;
          await emulatorRestarting;
          // A resume all's n-th command: n modulo the nodes it took.
          if (drain.all && !drain.targets?.length) return void step(`no duplicate: resume all ${drain.drainId} took no node`);
          const n = drain.all ? ((f.n - 1) % drain.targets!.length) + 1 : f.n;
          const body = { operation: drain.mode, drainId: drain.drainId, ...(spec.deadline !== undefined && { deadline: spec.deadline }), notAfter: spec.notAfter, replyTo: REPORTS_QUEUE };
          // A command's duplicate goes to the session of the node it names, like the original.
          const envelope = drain.targets
            ? commandEnvelope({ ...body, nodeId: drain.targets[n - 1]! }, n, new Date())
            : controlMessageEnvelope({ ...body, operation: drain.mode as Exclude<typeof drain.mode, 'resume'> }, n, new Date());
          const sb = new ServiceBusClient(emulator.connectionString);
          try {
            await sb.createSender(drain.targets ? commandsQueueName(topic) : topic).sendMessages(envelope);
          } finally {
            await sb.close();
          }
          step(`duplicate of ${envelope.messageId} sent`);
          return;
        }
      }
    }

    await Promise.all(timeline);
    await emulatorRestarting;
    step('faults over');

    // Every drain must end.
    // An overasking drain ends at notAfter (8 s) + the control plane's one-minute grace.
    const waitEnded = async (list: DrainOutcome[]) => {
      const finalUntil = Date.now() + (opts.finalTimeoutMs ?? 90_000) + (plan.drains.some((d) => d.overask) ? 60_000 : 0);
      for (const d of list) {
        for (;;) {
          const res = await plane.api('GET', `drains/${d.drainId}`).catch(() => undefined);
          d.status = res?.body;
          if (res?.status === 200 && res.body?.status !== 'running') break;
          if (Date.now() > finalUntil) break;
          await sleep(250);
        }
        step(`drain ${d.drainId}: ${d.status?.status} (${d.status?.outcome ?? ''})`);
      }
    };
    await waitEnded(drains.filter((_, i) => i !== resumeAt));

    // The resume phase: the resume finds what every other drain left, under its own faults.
    if (resumeAt >= 0) {
      timeline.length = 0;
      base = Date.now();
      step('resume phase');
      post(resumeAt);
      for (const f of plan.resumeFaults) at(f.at, () => fire(f), `resume fault ${f.kind} at +${f.at} ms`);
      await Promise.all(timeline);
      await emulatorRestarting;
      const resume = drains[resumeAt]!;
      // A resume all refused (400: nothing intake-stopped) started nothing to wait for.
      if (!resume.all || resume.answer?.status !== 400) await waitEnded([resume]);
      // Retried into a 409 (its first attempt started it): the nodes it took from its status.
      if (resume.all && resume.targets === undefined && Array.isArray(resume.status?.targets)) {
        resume.targets = resume.status.targets;
        resume.count = resume.status.targets.length;
      }
    }

    // Let acting nodes' workers finish their task and exit (drain) or go idle (intake stop only),
    // then give a wrongly released message time to act again before looking.
    // Restarted agents recover first (a pending message is rolled back or committed).
    const settleUntil = Date.now() + 45_000;
    const unsettled = () =>
      nodes.filter((n) => {
        const st = n.state();
        return (
          st?.pending !== undefined ||
          !n.agentListening() ||
          (st?.drain !== undefined && (st.state !== 'drained' || n.liveWorkers().length > 0)) ||
          (st?.intake !== undefined && st.drain === undefined && n.liveWorkers().some((w) => lastEvent(n, w.workerId) !== 'idle')) ||
          // Resumed: the library workers take tasks again (legacy ones declare no resume signal).
          (st?.state === 'active' && st.resumed?.reason === 'intake resumed' && n.liveWorkers().some((w) => w.kind !== 'legacy' && lastEvent(n, w.workerId) === 'idle'))
        );
      });
    while (Date.now() < settleUntil && unsettled().length > 0) await sleep(100);
    if (unsettled().length > 0) step(`still unsettled after 45 s: ${unsettled().map((n) => n.id).join(',')}`);
    await sleep(LOCK_MS + 1_500);
    step('settled');
    const held = nodes.filter((n) => n.state()?.intake);
    if (held.length > 0) step(`intake stops held by ${held.map((n) => `${n.id}${n.state()?.drain ? ' (then drained)' : ''}${n.agents.length > 1 ? ` (${n.agents.length} agents)` : ''}[${n.workers.map((w) => `${w.kind}:${lastEvent(n, w.workerId)}`).join(',')}]`).join(' ')}`);

    // A resume all that started nothing (400) has no status to check.
    const started = drains.filter((d) => !(d.all && d.answer?.status === 400));
    violations.push(...checkDrains(nodes, started));
    violations.push(...checkNodes(nodes, drains));
    violations.push(...checkCommands(nodes, started));
    violations.push(...checkResumeAll(nodes, drains));
    violations.push(...checkTasks(nodes));
    violations.push(...checkSignals(bait));

    const sb = new ServiceBusClient(emulator.connectionString);
    try {
      const peek = async (entity: string, sub?: string, deadLetter = false): Promise<ServiceBusReceivedMessage[]> => {
        const options = deadLetter ? { subQueueType: 'deadLetter' as const } : {};
        const r = sub ? sb.createReceiver(entity, sub, options) : sb.createReceiver(entity, options);
        try {
          return await r.peekMessages(200, { fromSequenceNumber: Long.fromNumber(0) });
        } finally {
          await r.close();
        }
      };
      const timedOut = drains.filter((d) => d.status?.status === 'timed-out').map((d) => d.drainId);
      violations.push(...checkBus(`${topic}/shutdown`, await peek(topic, 'shutdown'), await peek(topic, 'shutdown', true), timedOut));
      // Reports: the host's trigger takes them; after an emulator restart it takes ~30 s to come back.
      let reports = await peek(REPORTS_QUEUE);
      for (let i = 0; i < 120 && reports.length > 0; i++) {
        await sleep(500);
        reports = await peek(REPORTS_QUEUE);
      }
      violations.push(...checkBus(REPORTS_QUEUE, reports, await peek(REPORTS_QUEUE, undefined, true)));
      // The commands queue, one session per node: the agents are stopped (their workers are not
      // looked at any more) so that their sessions can be accepted once their locks expire.
      if (drains.some((d) => d.targets)) {
        await Promise.all(nodes.map((n) => n.stopAgent()));
        await sleep(LOCK_MS + 500);
        const left: ServiceBusReceivedMessage[] = [];
        for (const n of nodes) left.push(...(await peekSession(sb, commandsQueueName(topic), n.id)));
        violations.push(...checkBus(commandsQueueName(topic), left, await peek(commandsQueueName(topic), undefined, true), timedOut));
      }
    } finally {
      await sb.close();
    }
    step(`checked: ${violations.length} violation(s); agent kills ${nodes.reduce((s, n) => s + n.kills, 0)}, emulator restarts ${emulator.restarts}, host restarts ${plane.restarts}`);
  } catch (err) {
    violations.push(`run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => {});
    if (violations.length === 0 || !process.env.CHAOS_KEEP) rmSync(root, { recursive: true, force: true });
    else {
      for (const n of nodesForLogs) writeFileSync(join(n.dir, 'agents.log'), n.agents.map((a, i) => `=== agent ${i} pid ${a.pid}\n${a.output()}`).join('\n'));
      steps.push(`kept ${root}`);
    }
  }
  return { seed, nodes: nodeCount, ok: violations.length === 0, violations, steps, ms: Date.now() - started, plan };
}
