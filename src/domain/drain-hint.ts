// Why a running drain waits: its untaken messages, when they expire, and what the inventory says
// of the topic's nodes (GET /api/topics counts). Computed when the drain is read, never stored:
// the fleet changes while the drain runs.

import type { Operation } from '@workforce/worker-agent/contract';
import { STANDINGS, type NodeCounts } from './node-view.js';

export interface HintInput {
  topic: string;
  mode: Operation;
  untaken: number;
  /** When the untaken messages expire (the drain's `untakenExpireAt`). */
  untakenExpireAt?: string;
  /** The topic's nodes by where they stand, as GET /api/topics counts them. */
  nodes: NodeCounts;
  now: Date;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "10:15:30Z", with the date in front when it is not today's (UTC). */
export function clockTime(iso: string, now: Date): string {
  const at = new Date(iso);
  const time = `${at.toISOString().slice(11, 19)}Z`;
  return at.toISOString().slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${at.toISOString().slice(0, 10)} ${time}`;
}

/**
 * "2 messages untaken, they expire at 10:15:30Z; eu-west has 0 active nodes online: 3 drained,
 * 1 intake-stopped". Only an `active` node takes a do-not-accept-new-tasks message; an
 * intake-stopped one also takes a graceful-downscale (DESIGN "Node state (agent)").
 */
export function drainHint(input: HintInput): string | undefined {
  const { topic, mode, untaken, nodes, now } = input;
  if (untaken <= 0) return undefined;
  const expiry = input.untakenExpireAt !== undefined ? `, ${untaken === 1 ? 'it expires' : 'they expire'} at ${clockTime(input.untakenExpireAt, now)}` : '';
  const messages = `${plural(untaken, 'message')} untaken${expiry}`;
  if (nodes.total === 0) return `${messages}; ${topic} has no node in the inventory: no agent has reported on this topic (agents listen with WORKFORCE_CONTROL_TOPIC_NAME=${topic})`;
  const takerStates = mode === 'graceful-downscale' ? (['active', 'intake-stopped'] as const) : (['active'] as const);
  const takers = takerStates.reduce((sum, s) => sum + nodes[s], 0);
  const others = STANDINGS.filter((s) => !(takerStates as readonly string[]).includes(s) && nodes[s] > 0).map((s) => `${nodes[s]} ${s}`);
  const what = `${takerStates.join(' or ')} ${takers === 1 ? 'node' : 'nodes'} online`;
  let fleet = `${topic} has ${takers} ${what}${others.length > 0 ? `: ${others.join(', ')}` : ''}`;
  if (takers === 0 && nodes.drained > 0) fleet += ' (a drained node takes no control message until `workforce-agent reset`)';
  return `${messages}; ${fleet}`;
}
