// The resume-all invariants check themselves on made-up nodes and agent logs: a resume with
// `all: true` that leaves out a node standing intake-stopped when asked, takes one that was not,
// answers otherwise than its status shows, has a target accept its command twice or end
// intake-stopped with its flag up, resumes a node it did not take, or answers 400 while a node
// stood intake-stopped. A resume that took exactly the intake-stopped nodes and resumed them must
// pass, and so must a 400 when no node stood intake-stopped.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeState } from '../../worker-agent/src/agent/node-state.js';
import type { ChaosNode } from './fleet.js';
import type { DrainOutcome } from './invariants.js';
import { checkResumeAll } from './resume-all-invariants.js';

const dir = mkdtempSync(join(tmpdir(), 'chaos-resume-all-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RESUME = 'chaos-1-r3';
type Log = Array<Record<string, unknown>>;
let made = 0;

/** A node whose agents logged `logs` (one array per agent life), resumed by `resumedBy` if given. */
function node(id: string, opts: { state?: NodeState['state']; logs?: Log[]; flag?: boolean; resumedBy?: string } = {}): ChaosNode {
  // A flag of its own: one test's flag must not stand up on another test's node.
  const flag = join(dir, `${id}-${made++}.intake-stopped`);
  if (opts.flag) writeFileSync(flag, '{}');
  const resumed = opts.resumedBy && { messageId: opts.resumedBy, message: { drainId: opts.resumedBy.slice(0, opts.resumedBy.lastIndexOf('/')) } };
  const st = { version: 1, nodeId: id, topic: 'chaos-1', state: opts.state ?? 'active', since: '', seen: [], outbox: [], ...(resumed && { resumed }) };
  return { id, intakeFlag: flag, agents: (opts.logs ?? []).map((log) => ({ events: () => log })), state: () => st } as unknown as ChaosNode;
}

const accepted = (messageId: string) => ({ event: 'message-accepted', messageId, operation: 'resume' });

/** b and c stood intake-stopped when asked, a active, d drained. */
const asked = { a: 'active', b: 'intake-stopped', c: 'intake-stopped', d: 'drained' };

function resume(targets: string[], over: Partial<DrainOutcome> = {}): DrainOutcome {
  return { drainId: RESUME, count: targets.length, mode: 'resume', all: true, asked, answer: { status: 202, nodes: targets }, targets, status: { status: 'completed', targets }, ...over };
}

/** The nodes after a resume that took b and c: both resumed, active, their flags down. */
const good = () => [
  node('a'),
  node('b', { logs: [[accepted(`${RESUME}/1`)]], resumedBy: `${RESUME}/1` }),
  node('c', { logs: [[accepted(`${RESUME}/2`)]], resumedBy: `${RESUME}/2` }),
  node('d', { state: 'drained' }),
];

describe('resume all invariants', () => {
  it('accept a resume that took every intake-stopped node and resumed each once', () => {
    expect(checkResumeAll(good(), [resume(['b', 'c'])])).toEqual([]);
  });

  it('accept a 400 when no node stood intake-stopped, and report one when a node did', () => {
    const refused = { answer: { status: 400, detail: 'no intake-stopped node' }, targets: undefined, status: undefined };
    expect(checkResumeAll([node('a')], [resume([], { ...refused, asked: { a: 'active' } })])).toEqual([]);
    expect(checkResumeAll(good(), [resume([], refused)])).toEqual([`resume all ${RESUME} answered 400 (no intake-stopped node) although [b,c] stood intake-stopped when it was asked`]);
  });

  it('report an intake-stopped node left out, and a node taken that was not intake-stopped', () => {
    const [a, b, , d] = good();
    const leftOut = [a!, b!, node('c', { state: 'intake-stopped', flag: true }), d!];
    expect(checkResumeAll(leftOut, [resume(['b'])])).toEqual([`c stood intake-stopped when resume all ${RESUME} was asked, but the resume did not take it (it took [b])`]);
    // Unless the inventory listed it stale or offline: then it is not to be taken.
    expect(checkResumeAll(leftOut, [resume(['b'], { unreachable: ['c'] })])).toEqual([]);
    const withD = [a!, ...good().slice(1, 3), node('d', { state: 'drained', logs: [[accepted(`${RESUME}/3`)]] })];
    expect(checkResumeAll(withD, [resume(['b', 'c', 'd'])])).toEqual([
      `resume all ${RESUME} took d, which stood drained when it was asked, not intake-stopped`,
      `d, taken by resume all ${RESUME}, ends drained, not active`,
    ]);
  });

  it('report an answer that disagrees with the status', () => {
    expect(checkResumeAll(good(), [resume(['b', 'c'], { status: { status: 'completed', targets: ['b'] } })])).toEqual([`resume all ${RESUME} answered nodes [b,c] but its status shows targets [b]`]);
  });

  it('report a target that accepted its command twice, or ends intake-stopped with its flag up', () => {
    const twice = [node('a'), node('b', { logs: [[accepted(`${RESUME}/1`)], [accepted(`${RESUME}/1`)]], resumedBy: `${RESUME}/1` }), good()[2]!];
    expect(checkResumeAll(twice, [resume(['b', 'c'])])).toEqual([`b accepted ${RESUME}/1 of resume all ${RESUME} 2 times`]);
    const stuck = [node('a'), node('b', { state: 'intake-stopped', flag: true, logs: [[accepted(`${RESUME}/1`)]] }), good()[2]!];
    expect(checkResumeAll(stuck, [resume(['b', 'c'])])).toEqual([
      `b, taken by resume all ${RESUME}, ends intake-stopped, not active`,
      `b, taken by resume all ${RESUME}, still has its intake flag ${stuck[1]!.intakeFlag}`,
    ]);
  });

  it('report a node resumed by it that it did not take', () => {
    const extra = [node('a', { logs: [[accepted(`${RESUME}/2`)]], resumedBy: `${RESUME}/2` }), ...good().slice(1)];
    expect(checkResumeAll(extra, [resume(['b', 'c'])])).toEqual([
      `a acted ${RESUME}/2 of resume all ${RESUME}, which did not take it`,
      `a was resumed by ${RESUME}/2 of resume all ${RESUME}, which did not take it`,
    ]);
  });
});
