// The invariants checked after every run, from what the processes left behind (state dirs, the
// task queues' event logs, exits, the bait's signal log, the bus) against what the control plane
// says. Each returns the violations it found, as sentences; none means the run passed.
import { existsSync } from 'node:fs';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { CommandOperation } from '../../worker-agent/src/contract/command.js';
import type { Bait } from './bait.js';
import type { ChaosNode } from './fleet.js';
import { historyOf } from './history.js';

type Operation = CommandOperation;

export interface DrainOutcome {
  drainId: string;
  count: number;
  mode: Operation;
  /** The last GET /api/drains/{id} body. */
  status: any;
  /** It asked for more nodes than the fleet had left: it must time out, with its shortfall. */
  overask?: boolean;
  /** A targeted drain's nodes (its commands `<drainId>/<n>` go to `targets[n-1]`); for a resume with `all`, the nodes the API answered it took. */
  targets?: string[];
  /** A resume with `all: true` (resume-all-invariants.ts). */
  all?: true;
  /** For a resume with `all`: each node's state (its state file) right before it was posted. */
  asked?: Record<string, string>;
  /** For a resume with `all`: the nodes the inventory listed stale or offline right before it was posted (it takes no such node). */
  unreachable?: string[];
  /** For a resume with `all`: the POST's answer (its status, the nodes of a 202, a problem's detail). */
  answer?: { status: number; nodes?: string[]; detail?: string };
}

const FINAL = new Set(['completed', 'timed-out']);
const INTAKE: Operation = 'do-not-accept-new-tasks';

/** The nodes that acted on one of a drain's messages (history.ts: the agents' logs and the state file). */
export function actedOn(nodes: ChaosNode[], drainId: string): ChaosNode[] {
  return nodes.filter((n) => historyOf(n).acts.some((a) => a.how === 'acted' && a.drainId === drainId));
}

/** A node that acted on a drain, then on a resume (which re-armed it: a draining node refuses one). */
function reArmed(n: ChaosNode, drains: Array<Pick<DrainOutcome, 'drainId' | 'mode'>>): boolean {
  const acted = historyOf(n).acts.filter((a) => a.how === 'acted');
  const modeOf = (drainId: string) => drains.find((d) => d.drainId === drainId)?.mode;
  const drained = acted.findIndex((a) => modeOf(a.drainId) === 'graceful-downscale');
  return drained >= 0 && acted.slice(drained).some((a) => modeOf(a.drainId) === 'resume');
}

/** Whether any intake stop of the run reached the node (it may have been resumed since). */
function intakeReached(n: ChaosNode, drains: Array<Pick<DrainOutcome, 'drainId' | 'mode'>>): boolean {
  return historyOf(n).acts.some((a) => a.how === 'acted' && drains.some((d) => d.drainId === a.drainId && d.mode === INTAKE));
}

/**
 * The last event a worker recorded in its node's event log, leaving out intake signals: an agent
 * killed between sending them and recording them sends them again after its restart (README of
 * the agent, "signals"), and an idle legacy worker records each SIGUSR1 it gets.
 */
export function lastEvent(node: ChaosNode, workerId: string): string | undefined {
  return node.queue.events().filter((e) => e.workerId === workerId && e.event !== 'intake-signal').at(-1)?.event;
}

export function checkDrains(nodes: ChaosNode[], drains: DrainOutcome[]): string[] {
  const out: string[] = [];
  const fleetOverasked = drains.some((d) => d.overask);
  for (const d of drains) {
    const s = d.status;
    const intake = d.mode === INTAKE;
    const acted = actedOn(nodes, d.drainId).map((n) => n.id).sort();
    // A drain's target: drained (or re-armed since by the resume); an intake stop's:
    // intake-stopped (even when a graceful drain takes the node afterwards, or the resume undoes
    // it: its status was read before the resume); a resume's: resumed. A command answered with
    // the target state ("already intake-stopped", "already active") counts as done.
    const answeredDone = (target: string) =>
      nodes.filter((n) => historyOf(n).acts.some((a) => a.drainId === d.drainId && a.how === 'answered' && a.report === target)).map((n) => n.id);
    const target = d.mode === 'resume' ? 'resumed' : intake ? 'intake-stopped' : 'drained';
    const doneHere =
      d.mode === 'graceful-downscale'
        ? actedOn(nodes, d.drainId).filter((n) => n.state()?.state === 'drained' || reArmed(n, drains)).map((n) => n.id).sort()
        : [...new Set([...acted, ...answeredDone(target)])].sort();
    if (!FINAL.has(s?.status)) {
      out.push(`drain ${d.drainId} did not reach a final status (status ${s?.status}; nodes acted ${acted.join(',')})`);
      continue;
    }
    if (s.mode !== d.mode) out.push(`drain ${d.drainId} was posted as ${d.mode} but its status says mode ${s.mode}`);
    const reported = Object.values((s.progress?.nodes ?? {}) as Record<string, { nodeId: string; state: string }>)
      .filter((p) => p.state === target)
      .map((p) => p.nodeId)
      .sort();
    if (s.status === 'completed' && !d.targets && acted.length !== d.count) out.push(`drain ${d.drainId} completed but ${acted.length} nodes acted on it (want ${d.count}): ${acted.join(',')}`);
    if (acted.length > d.count) out.push(`drain ${d.drainId}: ${acted.length} nodes acted on a drain of ${d.count}: ${acted.join(',')}`);
    if (s.status === 'completed' && doneHere.length !== d.count) out.push(`drain ${d.drainId} completed but ${doneHere.length} nodes are ${target} for it: ${doneHere.join(',')}`);
    if (reported.join(',') !== doneHere.join(',')) out.push(`drain ${d.drainId} status names ${target} [${reported.join(',')}] but the nodes' state says [${doneHere.join(',')}]`);
    const countField = d.mode === 'resume' ? 'done' : intake ? 'intakeStopped' : 'drained';
    if (s.counts?.[countField] !== reported.length) out.push(`drain ${d.drainId} counts.${countField} ${s.counts?.[countField]} but progress lists ${reported.length}`);
    if (s.counts?.shortfall !== Math.max(0, d.count - (s.counts?.done ?? 0))) out.push(`drain ${d.drainId} shortfall ${s.counts?.shortfall} is not ${d.count} - done ${s.counts?.done}`);
    // A targeted drain ends short when a named node refused its command or let it expire, and
    // says so (command-invariants.ts checks each node's answer).
    const answeredShort = d.targets !== undefined && (s.counts?.refused ?? 0) + (s.counts?.expired ?? 0) > 0;
    if (s.status === 'timed-out' && !fleetOverasked && !answeredShort) out.push(`drain ${d.drainId} timed out (shortfall ${s.counts?.shortfall}, outcome: ${s.outcome}) although enough nodes were able to act`);
    if ((s.anomalies ?? []).length > 0) out.push(`drain ${d.drainId} anomalies: ${JSON.stringify(s.anomalies)}`);
  }
  return out;
}

/**
 * Each message acted on by one node. A node acting on a drain signalled its workers and they
 * exited. A node holding an intake stop (and no drain) is `intake-stopped`, its flag is up, and its
 * workers are alive and idle: the legacy ones got their intake signal (SIGUSR1), the library ones
 * (declaring none) only read the flag. On any node an intake stop reached, a worker starts at most
 * one task after it (the one it may have claimed just before the flag went up). No worker of a
 * node that no intake stop reached got an intake signal; no worker of an undrained node was asked
 * to drain or exited.
 */
export function checkNodes(nodes: ChaosNode[], drains: Array<Pick<DrainOutcome, 'drainId' | 'mode'>>): string[] {
  const out: string[] = [];
  const byMessage = new Map<string, string[]>();
  const known = (drainId: string) => drains.some((d) => d.drainId === drainId);
  for (const n of nodes) {
    const st = n.state();
    const history = historyOf(n);
    if (st?.pending) out.push(`${n.id} still has a pending message ${st.pending.messageId} (${st.pending.phase})`);
    const events = n.queue.events();
    const drainRequested = new Set(events.filter((e) => e.event === 'drain-requested').map((e) => e.workerId));
    const intakeSignals = events.filter((e) => e.event === 'intake-signal');
    for (const a of history.acts.filter((x) => x.how === 'acted')) {
      byMessage.set(a.messageId, [...(byMessage.get(a.messageId) ?? []), n.id]);
      if (!known(a.drainId)) out.push(`${n.id} acted on unknown message ${a.messageId}`);
    }
    for (const [id, times] of history.accepted) if (times > 1) out.push(`${n.id} accepted ${id} ${times} times (acted on it more than once)`);
    for (const m of [st?.drain, st?.intake, st?.resumed]) {
      if (m && !drains.some((d) => d.drainId === m.message.drainId && d.mode === m.operation)) out.push(`${n.id} acted on ${m.messageId} as ${m.operation}, which is not the mode its drain was posted with`);
    }

    if (st?.intake) {
      const mid = st.intake.messageId;
      for (const flag of new Set([n.intakeFlag, ...st.intake.flags])) if (!existsSync(flag)) out.push(`${n.id} acted on intake stop ${mid} but its intake flag ${flag} is not there`);
      const since = Date.parse(st.intake.acceptedAt);
      for (const w of n.workers) {
        const late = events.filter((e) => e.workerId === w.workerId && e.event === 'started' && e.at > since);
        if (late.length > 1) out.push(`${n.id}: worker ${w.workerId} started ${late.length} tasks after the intake stop ${mid} at ${st.intake.acceptedAt} (${late.slice(0, 5).map((e) => e.taskId).join(',')}${late.length > 5 ? ',…' : ''})`);
        // Signalled before any drain could reach the node (it acts on one message at a time).
        const signals = intakeSignals.filter((e) => e.workerId === w.workerId);
        if (w.kind === 'legacy' && signals.length === 0) out.push(`${n.id} acted on intake stop ${mid} but legacy worker ${w.workerId} never got its intake signal (SIGUSR1)`);
        if (w.kind !== 'legacy') for (const e of signals) out.push(`${n.id}: worker ${w.workerId} declared no intake signal but got one (${String(e['signal'])})`);
      }
    } else if (!intakeReached(n, drains)) {
      for (const e of intakeSignals) out.push(`${n.id}: worker ${e.workerId} got an intake signal (${String(e['signal'])}) though no intake stop reached its node`);
    }

    // Resumed last (nothing acted on since; or answered "already active"): active, the flag
    // down, library workers taking tasks.
    const lastActed = history.acts.filter((a) => a.how === 'acted' || (a.how === 'answered' && a.report === 'resumed')).at(-1);
    if (lastActed && drains.some((d) => d.drainId === lastActed.drainId && d.mode === 'resume')) {
      if (st?.state !== 'active') out.push(`${n.id} acted on resume ${lastActed.messageId} last but is ${st?.state}, not active`);
      if (existsSync(n.intakeFlag)) out.push(`${n.id} was resumed by ${lastActed.messageId} but its intake flag ${n.intakeFlag} is still there`);
      for (const w of n.liveWorkers()) if (w.kind !== 'legacy' && lastEvent(n, w.workerId) === 'idle') out.push(`${n.id} was resumed by ${lastActed.messageId} but worker ${w.workerId} is still idle`);
    }

    if (st?.drain || reArmed(n, drains)) {
      const mid = st?.drain?.messageId ?? 'a drain, then a resume';
      if (st?.drain && st.state !== 'drained') out.push(`${n.id} acted on ${mid} but is ${st.state}, not drained`);
      for (const w of n.workers) {
        if (!drainRequested.has(w.workerId)) out.push(`${n.id} drained but worker ${w.workerId} was never asked to drain`);
        const code = w.child.exitCode;
        if (code !== 0) out.push(`${n.id} drained but worker ${w.workerId} ${code === null ? `has not exited (signal ${w.child.signalCode})` : `exited with ${code}`}`);
      }
    } else {
      const expected = st?.intake ? 'intake-stopped' : 'active';
      if (st && st.state !== expected) out.push(`${n.id} ${st.intake ? `acted on intake stop ${st.intake.messageId} only` : 'acted on nothing'} but is ${st.state}, not ${expected}`);
      for (const w of n.workers) {
        if (drainRequested.has(w.workerId)) out.push(`${n.id} acted on no drain but worker ${w.workerId} was asked to drain`);
        const exited = w.child.exitCode !== null || w.child.signalCode !== null;
        if (exited) out.push(`${n.id} acted on no drain${st?.intake ? ` (intake stop ${st.intake.messageId} only)` : ''} but worker ${w.workerId} exited (${w.child.exitCode ?? w.child.signalCode})`);
        if (!st?.intake || exited) continue;
        const last = lastEvent(n, w.workerId);
        if (last !== 'idle') out.push(`${n.id} intake-stopped but worker ${w.workerId} is not idle (its last event: ${last})`);
      }
    }
  }
  for (const [mid, ids] of byMessage) if (ids.length > 1) out.push(`message ${mid} acted on by ${ids.length} nodes: ${ids.join(',')}`);
  return out;
}

/** Every task a worker started was finished, is back in its queue, or is being run by a live worker. */
export function checkTasks(nodes: ChaosNode[]): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    const events = n.queue.events();
    const finished = new Set(events.filter((e) => e.event === 'finished').map((e) => e.taskId));
    const pending = new Set(n.queue.pending());
    const live = new Set(n.liveWorkers().map((w) => w.workerId));
    const lastStarted = new Map<string, string>();
    for (const e of events) if (e.event === 'started') lastStarted.set(e.workerId, e.taskId as string);
    for (const e of events.filter((x) => x.event === 'started')) {
      const id = e.taskId as string;
      if (finished.has(id) || pending.has(id)) continue;
      if (live.has(e.workerId) && lastStarted.get(e.workerId) === id) continue; // in flight now
      out.push(`${n.id}: task ${id} started by ${e.workerId} is lost (not finished, not queued, its worker ${live.has(e.workerId) ? 'moved on' : 'is gone'})`);
    }
  }
  return out;
}

export function checkSignals(bait: Bait): string[] {
  return bait.violations();
}

/**
 * Nothing left in the entity and nothing dead-lettered, except the messages of a drain that timed
 * out: those expired unread (TTL = notAfter + 30 s, less than the grace before the drain times out), dead-lettered with TTLExpiredException or not yet swept.
 */
export function checkBus(what: string, active: ServiceBusReceivedMessage[], deadLetters: ServiceBusReceivedMessage[], timedOut: string[] = []): string[] {
  const out: string[] = [];
  const ofTimedOut = (m: ServiceBusReceivedMessage) => timedOut.some((d) => String(m.messageId).startsWith(`${d}/`));
  active = active.filter((m) => !(ofTimedOut(m) && m.expiresAtUtc !== undefined && m.expiresAtUtc.getTime() <= Date.now()));
  deadLetters = deadLetters.filter((m) => !(ofTimedOut(m) && m.deadLetterReason === 'TTLExpiredException'));
  for (const m of active) out.push(`${what}: message ${String(m.messageId)} left in the entity (deliveries ${m.deliveryCount}, state ${m.state})`);
  for (const m of deadLetters) out.push(`${what}: message ${String(m.messageId)} dead-lettered: ${m.deadLetterReason} ${m.deadLetterErrorDescription ?? ''}`);
  return out;
}
