// The node state (DESIGN "Node state (agent)"): active → intake-stopped → draining → drained,
// persisted in the state directory before the agent acts, with the message being handled
// (`pending`), the messages acted on, and the reports not yet known to be sent (`outbox`).
//
// Writes replace the file atomically (temporary file + rename), without fsync except the write
// that records a commit (`durable`, once per message acted on): the state must survive a crash
// of the agent process, and a write in the page cache does (see atomic-file.ts).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import type { ControlMessage } from '../contract/control-message.js';
import type { CommandOperation } from '../contract/command.js';

/** The body of a message acted on: a control message, or a command (which adds `resume` and `nodeId`). */
export type ActedBody = Omit<ControlMessage, 'operation'> & { operation: CommandOperation; nodeId?: string };
import type { AgentReport } from '../contract/report.js';
import { ensureOwnDir } from '../common/directories.js';
import { AgentError, errnoCode } from '../common/errors.js';

export const NODE_STATES = ['active', 'intake-stopped', 'draining', 'drained'] as const;
export type NodeStateName = (typeof NODE_STATES)[number];

const TRANSITIONS: Record<NodeStateName, readonly NodeStateName[]> = {
  active: ['intake-stopped', 'draining'],
  'intake-stopped': ['draining', 'active'], // → active: a local `resume`
  draining: ['drained'],
  drained: ['active'], // a local `reset`
};

/** How many acted-on message ids are remembered for deduplication. */
export const SEEN_LIMIT = 1000;

export interface WorkerRecord {
  workerId: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat when it was signalled: identifies the process while it lives. */
  startTime: number;
  signal: string | null;
  signalledAt?: string;
  exitedAt?: string;
  escalatedAt?: string;
}

/** A control message or command this node acted on. */
export interface ActedMessage {
  messageId: string;
  sequenceNumber: string;
  operation: CommandOperation;
  message: ActedBody;
  /** Where reports about it go: the configured reports queue (a message cannot choose). */
  replyTo: string;
  acceptedAt: string;
  /**
   * The intake flag written for it. Kept for state files of earlier versions, whose list also
   * held paths that workers declared: the agent never writes or removes those (DESIGN "Intake stop").
   */
  flags: string[];
  /** Workers signalled for it (or found with no signal to send), with their exits. */
  workers: WorkerRecord[];
  escalatedAt?: string;
  drainedAt?: string;
  /** A resume: what it did (`intake resumed`, `re-armed`), the reason of its `resumed` report. */
  reason?: string;
}

/**
 * The message being handled. `accepting`: persisted, maybe deferred on the bus (the commit
 * point); recovery asks the bus which. `committed`: this node owns it and acts on it; what
 * is left is signalling and completing the deferred message.
 */
export interface PendingMessage {
  messageId: string;
  sequenceNumber: string;
  operation: CommandOperation;
  message: ActedBody;
  /** Where it came from: this node's commands session; absent for the `shutdown` subscription. */
  source?: 'commands';
  replyTo: string;
  phase: 'accepting' | 'committed';
  receivedAt: string;
}

export interface NodeState {
  version: 1;
  nodeId: string;
  topic: string;
  state: NodeStateName;
  since: string;
  intake?: ActedMessage;
  drain?: ActedMessage;
  /** The last `resume` command acted on, with the workers sent their resume signal. */
  resumed?: ActedMessage;
  pending?: PendingMessage;
  /** Ids of messages acted on or settled without acting (expired), newest last. */
  seen: string[];
  /** Reports not yet confirmed sent (at least once: removed only after the send succeeded). */
  outbox: OutboxItem[];
}

export interface OutboxItem {
  /** The configured reports queue when it was queued; reports are sent to the current one. */
  queue: string;
  report: AgentReport;
}

export function initialState(nodeId: string, topic: string, now: Date): NodeState {
  return { version: 1, nodeId, topic, state: 'active', since: now.toISOString(), seen: [], outbox: [] };
}

export function canTransition(from: NodeStateName, to: NodeStateName): boolean {
  return TRANSITIONS[from].includes(to);
}

export function transition(state: NodeState, to: NodeStateName, now: Date): void {
  if (!canTransition(state.state, to)) {
    throw new AgentError('StateTransitionInvalid', `node state cannot go from ${state.state} to ${to}`);
  }
  state.state = to;
  state.since = now.toISOString();
}

/** Whether this node can act on a control message's `operation` now (DESIGN: one message acts on one node). */
export function canActOn(state: NodeStateName, operation: CommandOperation): boolean {
  if (operation === 'resume') return false; // a command only (command-rules.ts)
  return operation === 'graceful-downscale' ? canTransition(state, 'draining') : state === 'active';
}

/** Whether the agent should receive at all: a draining or drained node can act on nothing. */
export function canActOnAnything(state: NodeStateName): boolean {
  return state === 'active' || state === 'intake-stopped';
}

export function remember(state: NodeState, messageId: string): void {
  if (state.seen.includes(messageId)) return;
  state.seen.push(messageId);
  if (state.seen.length > SEEN_LIMIT) state.seen.splice(0, state.seen.length - SEEN_LIMIT);
}

export const STATE_DIR = 'state directory (WORKFORCE_STATE_DIR / --state-dir)';

export class NodeStateStore {
  readonly path: string;
  private dirMade = false;

  constructor(readonly dir: string) {
    this.path = join(dir, 'node-state.json');
  }

  /** The persisted state, or undefined when there is none yet. */
  read(): NodeState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new AgentError('StateCorrupt', `${this.path} is not JSON (${(err as Error).message}); move it away to start afresh`);
    }
    const s = value as Partial<NodeState>;
    if (s.version !== 1 || !NODE_STATES.includes(s.state as NodeStateName) || !Array.isArray(s.seen) || !Array.isArray(s.outbox)) {
      throw new AgentError('StateCorrupt', `${this.path} is not a version 1 node state; move it away to start afresh`);
    }
    return s as NodeState;
  }

  load(nodeId: string, topic: string, now: Date): NodeState {
    const state = this.read();
    if (state === undefined) return initialState(nodeId, topic, now);
    if (state.topic !== topic) {
      throw new AgentError('StateCorrupt', `${this.path} belongs to topic ${state.topic}, not ${topic}: give each topic its own state directory`);
    }
    return state;
  }

  /** `durable`: fsync the file and the directory (the commit write). */
  save(state: NodeState, options: { durable?: boolean } = {}): void {
    if (!this.dirMade) ensureOwnDir(this.dir, STATE_DIR);
    this.dirMade = true;
    writeFileAtomic(this.path, `${JSON.stringify(state)}\n`, { durable: options.durable ?? false });
  }
}
