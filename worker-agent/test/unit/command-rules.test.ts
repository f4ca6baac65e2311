// The per-state table of per-node commands (DESIGN "Per-node commands"), as decideCommand says it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decideCommand } from '../../src/agent/command-rules.js';
import { type ActedMessage, type NodeState, type NodeStateName, initialState } from '../../src/agent/node-state.js';
import type { CommandMessage } from '../../src/contract/index.js';
import { removeTempDirs, tempDir } from '../helpers.js';

afterAll(removeTempDirs);

const pidDir = join(tempDir('wf-rules-'), 'pids');
mkdirSync(pidDir);
const config = { pidDir, topic: 'eu', legacySignals: true };

function acted(operation: ActedMessage['operation'], drainId: string | undefined, messageId: string): ActedMessage {
  return { messageId, sequenceNumber: '1', operation, message: { operation, ...(drainId ? { drainId } : {}) }, replyTo: 'r', acceptedAt: '2026-12-07T00:00:00.000Z', flags: [], workers: [] };
}

function node(state: NodeStateName): NodeState {
  const s = initialState('n1', 'eu', new Date('2026-12-07T00:00:00Z'));
  s.state = state;
  if (state !== 'active') s.intake = acted('do-not-accept-new-tasks', undefined, 'plain-message-id');
  if (state === 'draining' || state === 'drained') s.drain = acted('graceful-downscale', 'd7', 'd7/3');
  return s;
}

const cmd = (operation: CommandMessage['operation']): CommandMessage => ({ operation, nodeId: 'n1' });

describe('decideCommand', () => {
  it.each([
    ['graceful-downscale', 'active', { kind: 'act' }],
    ['graceful-downscale', 'intake-stopped', { kind: 'act' }],
    ['graceful-downscale', 'draining', { kind: 'answer', state: 'refused', reason: 'already draining for drain d7' }],
    ['graceful-downscale', 'drained', { kind: 'answer', state: 'refused', reason: 'drained: resume it first' }],
    ['do-not-accept-new-tasks', 'active', { kind: 'act' }],
    ['do-not-accept-new-tasks', 'intake-stopped', { kind: 'answer', state: 'intake-stopped', reason: 'already intake-stopped by plain-message-id' }],
    ['do-not-accept-new-tasks', 'draining', { kind: 'answer', state: 'refused', reason: 'draining for drain d7: a drain cannot be undone' }],
    ['do-not-accept-new-tasks', 'drained', { kind: 'answer', state: 'refused', reason: 'drained: resume it first' }],
    ['resume', 'active', { kind: 'answer', state: 'resumed', reason: 'already active' }],
    ['resume', 'intake-stopped', { kind: 'act' }],
    ['resume', 'draining', { kind: 'answer', state: 'refused', reason: 'draining for drain d7: a drain cannot be undone' }],
    ['resume', 'drained', { kind: 'act' }],
  ] as const)('%s on %s', (operation, state, decision) => {
    expect(decideCommand(node(state), cmd(operation), config)).toEqual(decision);
  });

  it('refuses to re-arm a drained node with reset\'s reason (a message in hand)', () => {
    const s = node('drained');
    s.pending = { messageId: 'x/1', sequenceNumber: '9', operation: 'resume', message: { operation: 'resume', nodeId: 'n1' }, replyTo: 'r', phase: 'committed', receivedAt: '2026-12-07T00:00:00.000Z' };
    expect(decideCommand(s, cmd('resume'), config)).toEqual({ kind: 'answer', state: 'refused', reason: 'message x/1 is being handled' });
  });

  it('names the intake stop by its drain when it has one', () => {
    const s = node('intake-stopped');
    s.intake = acted('do-not-accept-new-tasks', 'stop-9', 'stop-9/1');
    expect(decideCommand(s, cmd('do-not-accept-new-tasks'), config)).toMatchObject({ reason: 'already intake-stopped by stop-9' });
  });
});
