// The invariants checked after every run, from what the processes left behind (state dirs, the
// task queues' event logs, exits, the bait's signal log, the bus) against what the control plane
// says. Each returns the violations it found, as sentences; none means the run passed.
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Bait } from './bait.js';
import type { ChaosNode } from './fleet.js';

export interface DrainOutcome {
  drainId: string;
  count: number;
  /** The last GET /api/drains/{id} body. */
  status: any;
  /** It asked for more nodes than the fleet had left: it must time out, with its shortfall. */
  overask?: boolean;
}

const FINAL = new Set(['completed', 'timed-out']);

/** The nodes whose persisted state says they acted on a drain (its message in `drain`). */
export function actedOn(nodes: ChaosNode[], drainId: string): ChaosNode[] {
  return nodes.filter((n) => n.state()?.drain?.message.drainId === drainId);
}

export function checkDrains(nodes: ChaosNode[], drains: DrainOutcome[]): string[] {
  const out: string[] = [];
  const fleetOverasked = drains.some((d) => d.overask);
  for (const d of drains) {
    const s = d.status;
    const acted = actedOn(nodes, d.drainId).map((n) => n.id).sort();
    const drainedHere = actedOn(nodes, d.drainId).filter((n) => n.state()?.state === 'drained').map((n) => n.id).sort();
    if (!FINAL.has(s?.status)) {
      out.push(`drain ${d.drainId} did not reach a final status (status ${s?.status}; nodes acted ${acted.join(',')})`);
      continue;
    }
    const reported = Object.values((s.progress?.nodes ?? {}) as Record<string, { nodeId: string; state: string }>)
      .filter((p) => p.state === 'drained')
      .map((p) => p.nodeId)
      .sort();
    if (s.status === 'completed' && acted.length !== d.count) out.push(`drain ${d.drainId} completed but ${acted.length} nodes acted on it (want ${d.count}): ${acted.join(',')}`);
    if (acted.length > d.count) out.push(`drain ${d.drainId}: ${acted.length} nodes acted on a drain of ${d.count}: ${acted.join(',')}`);
    if (s.status === 'completed' && drainedHere.length !== d.count) out.push(`drain ${d.drainId} completed but ${drainedHere.length} nodes are drained for it: ${drainedHere.join(',')}`);
    if (reported.join(',') !== drainedHere.join(',')) out.push(`drain ${d.drainId} status names drained [${reported.join(',')}] but the nodes' state says [${drainedHere.join(',')}]`);
    if (s.counts?.drained !== reported.length) out.push(`drain ${d.drainId} counts.drained ${s.counts?.drained} but progress lists ${reported.length}`);
    if (s.counts?.shortfall !== Math.max(0, d.count - (s.counts?.done ?? 0))) out.push(`drain ${d.drainId} shortfall ${s.counts?.shortfall} is not ${d.count} - done ${s.counts?.done}`);
    if (s.status === 'timed-out' && !fleetOverasked) out.push(`drain ${d.drainId} timed out (shortfall ${s.counts?.shortfall}, outcome: ${s.outcome}) although enough nodes were able to act`);
    if ((s.anomalies ?? []).length > 0) out.push(`drain ${d.drainId} anomalies: ${JSON.stringify(s.anomalies)}`);
  }
  return out;
}

/** Each message acted on by one node; a node acting on a drain signalled its workers and they exited; others untouched. */
export function checkNodes(nodes: ChaosNode[], drainIds: string[]): string[] {
  const out: string[] = [];
  const byMessage = new Map<string, string[]>();
  for (const n of nodes) {
    const st = n.state();
    if (st?.pending) out.push(`${n.id} still has a pending message ${st.pending.messageId} (${st.pending.phase})`);
    const events = n.queue.events();
    const drainRequested = new Set(events.filter((e) => e.event === 'drain-requested').map((e) => e.workerId));
    // The runs publish graceful-downscale only: an intake signal is a signal nobody asked for.
    for (const e of events.filter((x) => x.event === 'intake-signal')) out.push(`${n.id}: worker ${e.workerId} got an intake signal (${String(e['signal'])}) though no drain stopped intake`);
    const mid = st?.drain?.messageId;
    if (mid) byMessage.set(mid, [...(byMessage.get(mid) ?? []), n.id]);
    if (st?.drain && !drainIds.includes(st.drain.message.drainId ?? '')) out.push(`${n.id} acted on unknown drain message ${mid}`);
    if (st?.drain) {
      if (st.state !== 'drained') out.push(`${n.id} acted on ${mid} but is ${st.state}, not drained`);
      for (const w of n.workers) {
        if (!drainRequested.has(w.workerId)) out.push(`${n.id} drained but worker ${w.workerId} was never asked to drain`);
        const code = w.proc.child.exitCode;
        if (code !== 0) out.push(`${n.id} drained but worker ${w.workerId} ${code === null ? `has not exited (signal ${w.proc.child.signalCode})` : `exited with ${code}`}`);
      }
    } else {
      if (st && st.state !== 'active') out.push(`${n.id} acted on nothing but is ${st.state}`);
      for (const w of n.workers) {
        if (drainRequested.has(w.workerId)) out.push(`${n.id} acted on no drain but worker ${w.workerId} was asked to drain`);
        if (w.proc.child.exitCode !== null || w.proc.child.signalCode !== null) out.push(`${n.id} acted on no drain but worker ${w.workerId} exited (${w.proc.child.exitCode ?? w.proc.child.signalCode})`);
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
