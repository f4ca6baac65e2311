// What one seed does: the fleet, the drains and the faults, all drawn from the seed before the
// run starts, so that a seed replays the same plan (process timing still varies).
import type { Operation } from '../../worker-agent/src/contract/control-message.js';
import { CRASH_POINTS } from '../../worker-agent/src/agent/crash-points.js';
import type { StaleKind } from './bait.js';
import type { WorkerKind } from './fleet.js';
import { Rng } from './rng.js';

export const LOCK_MS = 3_000;

export type Fault =
  | { at: number; kind: 'kill-agent'; node: number }
  | { at: number; kind: 'stall-agent'; node: number; ms: number }
  /** Stalls the node's link as soon as its agent next accepts a message: it loses the lock mid-handling. */
  | { at: number; kind: 'stall-on-accept'; node: number; ms: number }
  | { at: number; kind: 'cut-agent'; node: number }
  | { at: number; kind: 'stall-host'; ms: number }
  | { at: number; kind: 'cut-host' }
  | { at: number; kind: 'restart-emulator'; signal: 'SIGKILL' | 'SIGTERM'; downMs: number }
  | { at: number; kind: 'restart-host' }
  | { at: number; kind: 'duplicate'; drain: number; n: number };

export interface NodePlan {
  workers: WorkerKind[];
  /** Crash hook of its first agent ('' = none). */
  crashAt: string;
  /** How long its supervisor waits before restarting a dead agent. */
  restartDelayMs: number;
  stale: StaleKind[];
  tasks: number[];
}

export interface Plan {
  seed: number;
  nodes: NodePlan[];
  /**
   * `mode`: graceful drains, and in some runs one intake stop (`do-not-accept-new-tasks`).
   * `overask`: takes all graceful drains together to N or N+1 nodes; such a run gives every drain no deadline and a short ackTimeout, and a drain left short must time out with its shortfall.
   */
  drains: Array<{ at: number; count: number; mode: Operation; overask?: boolean }>;
  faults: Fault[];
  /** Faults happen in [0, windowMs) after the first drain is posted. */
  windowMs: number;
}

const STALE_KINDS: StaleKind[] = ['json-wrong-start', 'json-wrong-boot', 'legacy-older'];

export function makePlan(seed: number, nodeCount: number): Plan {
  const rng = new Rng(seed);
  const windowMs = 12_000;
  const nodes: NodePlan[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const workers: WorkerKind[] = [rng.pick(['node', 'python', 'node', 'legacy'] as const)];
    if (rng.chance(0.25)) workers.push(rng.pick(['node', 'python', 'legacy'] as const));
    nodes.push({
      workers,
      crashAt: rng.chance(0.3) ? rng.pick(CRASH_POINTS) : '',
      restartDelayMs: rng.pick([0, LOCK_MS / 3, LOCK_MS + 700, 2 * LOCK_MS]),
      stale: rng.chance(0.3) ? [rng.pick(STALE_KINDS)] : [],
      tasks: Array.from({ length: 60 }, () => rng.int(100, 1500)),
    });
  }
  // PID reuse in every run: at least one node carries stale files of each kind.
  const baitNode = rng.int(0, nodeCount - 1);
  nodes[baitNode]!.stale = [...STALE_KINDS];

  // Drains: together they leave at least one node undrained, so "no more than N" is testable.
  const drains: Plan['drains'] = [];
  let left = nodeCount - 1;
  const drainCount = rng.int(1, 3);
  for (let d = 0; d < drainCount && left > 0; d++) {
    const count = d === drainCount - 1 ? rng.int(1, left) : rng.int(1, Math.max(1, Math.floor(left / 2)));
    drains.push({ at: d === 0 ? 0 : rng.int(0, 4_000), count, mode: 'graceful-downscale' });
    left -= count;
  }

  // Sometimes one more drain that cannot be satisfied: its shortfall must be reported truthfully.
  if (rng.chance(0.15)) drains.push({ at: rng.int(0, 4_000), count: left + rng.int(1, 2), mode: 'graceful-downscale', overask: true });
  // Otherwise, in about a third of the runs, one intake stop at a random moment among them.
  // An agent acts on an intake stop only while `active` (node-state.ts canActOn) and on a graceful
  // drain while `active` or `intake-stopped`: a node may take the intake stop and later drain,
  // never the other way round, and never two intake stops. However the messages fall, at least
  // N - (graceful nodes) nodes stay able to take the intake stop, so a count up to that is always
  // satisfiable (it leaves a node untouched unless the graceful drains took N - 1). Not in a run
  // that overasks: there, graceful drains may take every node before the intake stop is taken.
  else if (rng.chance(0.35)) drains.push({ at: rng.int(0, 4_000), count: rng.int(1, Math.max(1, left)), mode: 'do-not-accept-new-tasks' });

  const faults: Fault[] = [];
  const at = () => rng.int(0, windowMs - 1);
  const node = () => rng.int(0, nodeCount - 1);
  for (let k = rng.int(0, 3); k > 0; k--) faults.push({ at: at(), kind: 'kill-agent', node: node() });
  for (let k = rng.int(0, 3); k > 0; k--) faults.push({ at: at(), kind: 'stall-agent', node: node(), ms: rng.int(LOCK_MS + 500, 2 * LOCK_MS + 1000) });
  for (let k = rng.int(0, 2); k > 0; k--) faults.push({ at: at(), kind: 'cut-agent', node: node() });
  for (let k = rng.int(0, 2); k > 0; k--) faults.push({ at: rng.int(0, 3_000), kind: 'stall-on-accept', node: node(), ms: rng.int(LOCK_MS + 500, 2 * LOCK_MS + 1000) });
  if (rng.chance(0.3)) faults.push({ at: at(), kind: 'stall-host', ms: rng.int(500, 2 * LOCK_MS) });
  if (rng.chance(0.3)) faults.push({ at: at(), kind: 'cut-host' });
  if (rng.chance(0.5)) faults.push({ at: at(), kind: 'restart-emulator', signal: rng.pick(['SIGKILL', 'SIGTERM'] as const), downMs: rng.int(200, 2_000) });
  if (rng.chance(0.4)) faults.push({ at: at(), kind: 'restart-host' });
  if (rng.chance(0.5)) {
    const d = rng.int(0, drains.length - 1);
    faults.push({ at: at(), kind: 'duplicate', drain: d, n: rng.int(1, drains[d]!.count) });
  }
  faults.sort((a, b) => a.at - b.at);
  return { seed, nodes, drains, faults, windowMs };
}
