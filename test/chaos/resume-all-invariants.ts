// The invariants of a resume with `all: true`, which takes every node the fleet inventory lists
// as intake-stopped when it is asked. The run records each node's state (its state file) right
// before the POST; every other drain has ended by then, so the inventory has folded their
// reports. Against that record: the resume's targets (its 202 answer and its status) are exactly
// the nodes that stood intake-stopped, less any the inventory listed stale or offline then (no
// chaos agent stops cleanly, but one silent for 3 heartbeats is stale); each target accepted its
// command at most once and ends active with its intake flag down; no other node acted on the
// resume or was resumed by it. How each target answered and what the status shows of it:
// command-invariants.ts.
import { existsSync } from 'node:fs';
import type { ChaosNode } from './fleet.js';
import { actsOn, historyOf } from './history.js';
import type { DrainOutcome } from './invariants.js';

const list = (ids: readonly string[]) => `[${ids.join(',')}]`;

export function checkResumeAll(nodes: ChaosNode[], drains: DrainOutcome[]): string[] {
  const out: string[] = [];
  for (const d of drains) {
    if (!d.all) continue;
    const asked = d.asked ?? {};
    // Those it must take: intake-stopped and, to the inventory, online.
    const stopped = Object.keys(asked).filter((id) => asked[id] === 'intake-stopped' && !d.unreachable?.includes(id)).sort();
    const a = d.answer;
    if (!a) {
      out.push(`resume all ${d.drainId} got no answer`);
      continue;
    }
    // Nothing intake-stopped: the API refuses it (400, field `all`) and starts nothing.
    if (a.status === 400) {
      if (stopped.length > 0) out.push(`resume all ${d.drainId} answered 400 (${a.detail ?? ''}) although ${list(stopped)} stood intake-stopped when it was asked`);
      continue;
    }
    if (a.status !== 202 && a.status !== 409) {
      out.push(`resume all ${d.drainId} answered ${a.status} (${a.detail ?? ''})`);
      continue;
    }
    const shown: string[] | undefined = d.status?.targets;
    if (a.nodes && shown && a.nodes.join(',') !== shown.join(',')) out.push(`resume all ${d.drainId} answered nodes ${list(a.nodes)} but its status shows targets ${list(shown)}`);
    const targets = d.targets ?? [];
    const taken = new Set(targets.map((t) => t.toLowerCase()));
    for (const id of stopped) if (!taken.has(id.toLowerCase())) out.push(`${id} stood intake-stopped when resume all ${d.drainId} was asked, but the resume did not take it (it took ${list(targets)})`);
    for (const t of targets) if (asked[t] !== 'intake-stopped') out.push(`resume all ${d.drainId} took ${t}, which stood ${asked[t] ?? 'nowhere (not a node of the fleet)'} when it was asked, not intake-stopped`);
    targets.forEach((t, i) => {
      const n = nodes.find((x) => x.id.toLowerCase() === t.toLowerCase());
      if (!n) return;
      const messageId = `${d.drainId}/${i + 1}`;
      const times = historyOf(n).accepted.get(messageId) ?? 0;
      if (times > 1) out.push(`${t} accepted ${messageId} of resume all ${d.drainId} ${times} times`);
      const st = n.state();
      if (st?.state !== 'active') out.push(`${t}, taken by resume all ${d.drainId}, ends ${st?.state ?? 'with no state'}, not active`);
      if (existsSync(n.intakeFlag)) out.push(`${t}, taken by resume all ${d.drainId}, still has its intake flag ${n.intakeFlag}`);
    });
    for (const n of nodes) {
      if (taken.has(n.id.toLowerCase())) continue;
      for (const act of actsOn(historyOf(n), d.drainId)) out.push(`${n.id} ${act.how} ${act.messageId} of resume all ${d.drainId}, which did not take it`);
      const resumed = n.state()?.resumed;
      if (resumed?.message.drainId === d.drainId) out.push(`${n.id} was resumed by ${resumed.messageId} of resume all ${d.drainId}, which did not take it`);
    }
  }
  return out;
}
