// What one seed does: the fleet, the drains and the faults, all drawn from the seed before the
// run starts, so that a seed replays the same plan (process timing still varies).
import type { CommandOperation } from '../../worker-agent/src/contract/command.js';
import { CRASH_POINTS } from '../../worker-agent/src/agent/crash-points.js';
import type { StaleKind } from './bait.js';
import type { WorkerKind } from './fleet.js';
import { Rng } from './rng.js';

export const LOCK_MS = 3_000;

/** A fleet index, or the n-th node (1-based, modulo their number) a resume with `all: true` took, known once the API answered. */
export type FaultNode = number | { resumeTarget: number };

export type Fault =
  | { at: number; kind: 'kill-agent'; node: FaultNode }
  | { at: number; kind: 'stall-agent'; node: number; ms: number }
  /** Stalls the node's link as soon as its agent next accepts a message: it loses the lock mid-handling. */
  | { at: number; kind: 'stall-on-accept'; node: FaultNode; ms: number }
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

export interface DrainPlan {
  /** ms after the first drain is posted; for a resume, after every other drain ended. */
  at: number;
  count: number;
  mode: CommandOperation;
  /** Takes all graceful drains together to N or N+1 nodes; such a run gives every drain no deadline and a short ackTimeout, and a drain left short must time out with its shortfall. */
  overask?: boolean;
  /** A targeted drain (per-node commands): the indexes of the nodes it names, `count` of them. */
  nodes?: number[];
  /** A resume of every node the fleet inventory lists as intake-stopped (`all: true`): its nodes and count are the API's answer. */
  all?: true;
}

export interface Plan {
  seed: number;
  nodes: NodePlan[];
  /**
   * Anonymous graceful drains, in some runs one anonymous intake stop; in half the runs per-node
   * commands: a targeted intake stop, sometimes a targeted drain, usually a resume (always last).
   */
  drains: DrainPlan[];
  faults: Fault[];
  /** Faults around the resume, `at` ms after the resume phase began (every other drain ended). */
  resumeFaults: Fault[];
  /** Faults happen in [0, windowMs) after the first drain is posted (or the resume phase began). */
  windowMs: number;
  /** The fleet inventory (Azurite) runs: a resume with `all: true` reads the intake-stopped nodes from it. */
  inventory: boolean;
}

/** The drain id a plan entry is posted as: d (graceful), i (intake stop), t (targeted drain), s (targeted intake stop), r (resume). */
export function drainIdOf(seed: number, d: DrainPlan, i: number): string {
  const letter = d.mode === 'resume' ? 'r' : d.mode === 'graceful-downscale' ? (d.nodes ? 't' : 'd') : d.nodes ? 's' : 'i';
  return `chaos-${seed}-${letter}${i}`;
}

export function nodeName(i: number): string {
  return `node-${String(i).padStart(2, '0')}`;
}

/** k distinct node indexes. */
function sample(rng: Rng, nodeCount: number, k: number): number[] {
  return rng.shuffle(Array.from({ length: nodeCount }, (_, i) => i)).slice(0, k).sort((a, b) => a - b);
}

/**
 * One fault around the resume: its node's agent killed or stalled as it accepts, a duplicate of
 * its n-th command, an emulator or host restart (one of each at most: two would race for the
 * same data directory).
 */
function resumeFault(rng: Rng, faults: Fault[], at: number, node: FaultNode, drain: number, n: () => number): void {
  let kind = rng.pick(['kill-agent', 'stall-on-accept', 'duplicate', 'restart-emulator', 'restart-host', 'kill-agent'] as const);
  if (faults.some((f) => f.kind === kind) && kind.startsWith('restart-')) kind = 'kill-agent';
  if (kind === 'kill-agent') faults.push({ at, kind, node });
  else if (kind === 'stall-on-accept') faults.push({ at, kind, node, ms: rng.int(LOCK_MS + 500, 2 * LOCK_MS + 1000) });
  else if (kind === 'duplicate') faults.push({ at: at + 1_000, kind, drain, n: n() });
  else if (kind === 'restart-emulator') faults.push({ at, kind, signal: rng.pick(['SIGKILL', 'SIGTERM'] as const), downMs: rng.int(200, 2_000) });
  else faults.push({ at, kind });
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

  // Per-node commands in half the runs, drawn first so that the anonymous drains leave room for
  // them: a targeted intake stop of 1-3 nodes; in half of those also a targeted drain of 1-2
  // nodes (maybe some of the same: then whichever comes second is refused, or the drain takes
  // the intake-stopped node). A node an anonymous drain took first refuses a targeted one.
  const commands = rng.chance(0.5);
  const stopped = commands ? sample(rng, nodeCount, rng.int(1, Math.min(3, nodeCount - 1))) : [];
  const targeted = commands && rng.chance(0.5) ? sample(rng, nodeCount, rng.int(1, Math.min(2, nodeCount - 1))) : [];

  // Drains: together they leave at least one node undrained, so "no more than N" is testable;
  // the nodes a targeted drain names are not counted on. Beside commands they take at most half
  // of the rest: a graceful drain takes intake-stopped nodes too, and the resume should mostly
  // find the targeted intake stop's nodes intake-stopped, not drained.
  const drains: Plan['drains'] = [];
  let left = commands ? Math.floor((nodeCount - 1 - targeted.length - stopped.length) / 2) : nodeCount - 1;
  const drainCount = rng.int(1, 3);
  for (let d = 0; d < drainCount && left > 0; d++) {
    const count = d === drainCount - 1 ? rng.int(1, left) : rng.int(1, Math.max(1, Math.floor(left / 2)));
    drains.push({ at: d === 0 ? 0 : rng.int(0, 4_000), count, mode: 'graceful-downscale' });
    left -= count;
  }

  // Sometimes one more drain that cannot be satisfied: its shortfall must be reported truthfully.
  if (!commands && rng.chance(0.15)) drains.push({ at: rng.int(0, 4_000), count: left + rng.int(1, 2), mode: 'graceful-downscale', overask: true });
  // Otherwise, in about a third of the runs, one intake stop at a random moment among them.
  // An agent acts on an intake stop only while `active` (node-state.ts canActOn) and on a graceful
  // drain while `active` or `intake-stopped`: a node may take the intake stop and later drain,
  // never the other way round, and never two intake stops. However the messages fall, at least
  // N - (graceful nodes) nodes stay able to take the intake stop, so a count up to that is always
  // satisfiable (it leaves a node untouched unless the graceful drains took N - 1). Not in a run
  // that overasks: there, graceful drains may take every node before the intake stop is taken.
  // Nodes named by a targeted drain or intake stop may be taken by them first: not counted on.
  else {
    const graceful = drains.reduce((s, d) => s + d.count, 0);
    const able = nodeCount - graceful - targeted.length - stopped.length;
    if (rng.chance(0.35) && able >= 1) drains.push({ at: rng.int(0, 4_000), count: rng.int(1, Math.max(1, able - 1)), mode: 'do-not-accept-new-tasks' });
  }
  if (stopped.length > 0) drains.push({ at: rng.int(0, 4_000), count: stopped.length, mode: 'do-not-accept-new-tasks', nodes: stopped });
  if (targeted.length > 0) drains.push({ at: rng.int(0, 4_000), count: targeted.length, mode: 'graceful-downscale', nodes: targeted });

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

  // The resume, after every other drain ended (so it finds what they left): some of the nodes
  // the targeted intake stop named, sometimes a node the targeted drain named (re-arm, or refused
  // while still draining), sometimes any node (already active, or re-armed after an anonymous
  // drain). Faults around it: its nodes' agents killed or stalled as they accept it, a duplicate
  // of one of its commands, an emulator or host restart.
  const resumeFaults: Fault[] = [];
  if (stopped.length > 0 && rng.chance(0.75)) {
    const named = new Set(stopped.filter(() => rng.chance(0.7)));
    if (targeted.length > 0 && rng.chance(0.4)) named.add(rng.pick(targeted));
    if (rng.chance(0.2)) named.add(node());
    if (named.size === 0) named.add(stopped[0]!);
    const resumed = [...named].sort((a, b) => a - b);
    drains.push({ at: rng.int(0, 2_000), count: resumed.length, mode: 'resume', nodes: resumed });
    for (let k = rng.int(1, 2); k > 0; k--) {
      const fat = rng.int(0, 3_000);
      const target = rng.pick(resumed);
      resumeFault(rng, resumeFaults, fat, target, drains.length - 1, () => rng.int(1, resumed.length));
    }
    resumeFaults.sort((a, b) => a.at - b.at);
  }

  // A resume with `all: true` where no resume was planned but an intake stop was, from a stream
  // of its own so that every plan drawn before stays as it was: it takes whichever nodes the
  // intake stops left intake-stopped (the anonymous one's are known only at run time).
  const fork = new Rng((seed ^ 0x5f3759df) >>> 0);
  const inventory = !drains.some((d) => d.mode === 'resume') && drains.some((d) => d.mode === 'do-not-accept-new-tasks') && fork.chance(0.8);
  if (inventory) {
    drains.push({ at: fork.int(0, 2_000), count: 0, mode: 'resume', all: true });
    for (let k = fork.int(1, 2); k > 0; k--) {
      const fat = fork.int(0, 3_000);
      const target = fork.int(1, 3);
      resumeFault(fork, resumeFaults, fat, { resumeTarget: target }, drains.length - 1, () => target);
    }
    resumeFaults.sort((a, b) => a.at - b.at);
  }
  return { seed, nodes, drains, faults, resumeFaults, windowMs, inventory };
}
