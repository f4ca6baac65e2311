// The invariants of per-node commands (targeted drains, targeted intake stops, resumes), from the
// nodes' histories (history.ts) against each drain's status: a command acts on the node it names
// and no other; each named node acts on its command at most once, and exactly once unless it
// refused it or it expired, which its drain's status must then say; the status names each node
// at the state its own answer gave.
import type { DrainOutcome } from './invariants.js';
import type { ChaosNode } from './fleet.js';
import { actsOn, historyOf, type Act } from './history.js';

const TARGET = { 'graceful-downscale': 'drained', 'do-not-accept-new-tasks': 'intake-stopped', resume: 'resumed' } as const;

/** What the status should say of a node, from its acts on its command. */
function expectedState(d: DrainOutcome, acts: Act[]): string | undefined {
  const final = acts.find((a) => a.how === 'acted') ?? acts.find((a) => a.how === 'answered') ?? acts.find((a) => a.how === 'expired');
  if (!final) return undefined;
  if (final.how === 'acted') return TARGET[d.mode];
  return final.how === 'expired' ? 'expired' : final.report;
}

export function checkCommands(nodes: ChaosNode[], drains: DrainOutcome[]): string[] {
  const out: string[] = [];
  const histories = new Map(nodes.map((n) => [n.id, historyOf(n)]));
  for (const d of drains) {
    const targets = d.targets;
    if (!targets) continue;
    const progress = (d.status?.progress?.nodes ?? {}) as Record<string, { nodeId: string; state: string; messageId: string }>;
    // A command acts on its named node and no other, whatever came twice or late.
    for (const n of nodes) {
      for (const a of actsOn(histories.get(n.id)!, d.drainId)) {
        const k = Number(a.messageId.slice(d.drainId.length + 1));
        const addressed = targets[k - 1];
        if (addressed?.toLowerCase() !== n.id.toLowerCase()) out.push(`${n.id} ${a.how} ${a.messageId}, a command addressed to ${addressed ?? 'no node'}`);
      }
    }
    for (const id of Object.keys(progress)) if (!targets.includes(id)) out.push(`drain ${d.drainId} status lists ${id}, which it does not name`);
    targets.forEach((target, i) => {
      const messageId = `${d.drainId}/${i + 1}`;
      const h = histories.get(target);
      if (!h) return void out.push(`drain ${d.drainId} names ${target}, which is not in the fleet`);
      const acts = actsOn(h, d.drainId).filter((a) => a.messageId === messageId);
      const acted = acts.filter((a) => a.how === 'acted');
      // At most once: a message acted on and also answered (refused, already …) was handled twice.
      if (acted.length > 0 && acts.some((a) => a.how !== 'acted')) out.push(`${target} acted on ${messageId} and also ${acts.filter((a) => a.how !== 'acted').map((a) => `${a.how} it (${a.report ?? ''})`).join(', ')}`);
      const answers = new Set(acts.filter((a) => a.how === 'answered').map((a) => a.report));
      if (answers.size > 1) out.push(`${target} answered ${messageId} in different ways: ${[...answers].join(', ')}`);
      const expected = expectedState(d, acts);
      const shown = progress[target]?.state;
      // Exactly once unless refused or expired, and the status says which.
      if (expected === undefined) out.push(`${target} neither acted on nor answered its command ${messageId} (status: ${shown ?? 'nothing'})`);
      else if (shown !== expected) out.push(`drain ${d.drainId} shows ${target} ${shown ?? 'nowhere'}, but the node ${acts.map((a) => `${a.how}${a.report ? ` ${a.report}` : ''}`).join(', ')} ${messageId} (want ${expected})`);
    });
    // The final counts agree with the nodes' answers.
    const s = d.status;
    if (!s?.counts) continue;
    const states = Object.values(progress).map((p) => p.state);
    for (const [field, state] of [['refused', 'refused'], ['expired', 'expired']] as const) {
      const n = states.filter((x) => x === state).length;
      if (s.counts[field] !== n) out.push(`drain ${d.drainId} counts.${field} ${s.counts[field]} but progress lists ${n}`);
    }
    if (s.status === 'timed-out' && s.counts.refused + s.counts.expired === 0 && !d.overask) out.push(`drain ${d.drainId} timed out although no named node refused or let its command expire`);
    if (s.status === 'completed' && s.counts.done !== targets.length) out.push(`drain ${d.drainId} completed with done ${s.counts.done} of ${targets.length} named nodes`);
  }
  return out;
}
