// `workforce-agent status` prints text that others wrote: a control message's reason and drain
// id, PID file names. A terminal escape sequence in them must reach the operator's terminal as
// visible text, never as a sequence the terminal acts on.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { main } from '../../src/commands/main.js';
import { NodeStateStore, initialState } from '../../src/agent/node-state.js';
import { removeTempDirs, tempDir } from '../helpers.js';

afterAll(removeTempDirs);

// OSC 0 (set the window title), clear screen, cursor home, 8-bit CSI, DEL, a bidi override.
const HOSTILE = '\u001b]0;pwned\u0007\u001b[2J\u001b[H\u009b31m\u007f\u202eevil';

function nodeWithHostileText(): string[] {
  const dir = tempDir('wf-status-');
  const stateDir = join(dir, 'state');
  const pidDir = join(dir, 'pids');
  mkdirSync(pidDir);
  const state = initialState('node-1', 'eu', new Date('2026-12-07T00:00:00Z'));
  state.state = 'draining';
  const message = { operation: 'graceful-downscale' as const, drainId: `d${HOSTILE}`, reason: `scale in ${HOSTILE}` };
  state.drain = { messageId: `m${HOSTILE}`, sequenceNumber: '1', operation: 'graceful-downscale', message, replyTo: 'workforce-reports', acceptedAt: '2026-12-07T00:00:01.000Z', flags: [], workers: [] };
  new NodeStateStore(stateDir).save(state);
  // A worker (anyone who can write the PID directory) chooses its file's name and content.
  writeFileSync(join(pidDir, `x${HOSTILE}.pid`), 'not a pid');
  return ['--topic', 'eu', '--state-dir', stateDir, '--pid-dir', pidDir];
}

async function status(args: string[]): Promise<string> {
  let printed = '';
  expect(await main(['status', ...args], {}, (s) => {
    printed += s;
    return true;
  })).toBe(0);
  return printed;
}

it('escapes control characters in the text output', async () => {
  const printed = await status(nodeWithHostileText());
  expect(printed).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  expect(printed).toContain('reason: scale in \\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\x9b31m\\x7f\\u{202e}evil');
  expect(printed).toContain('invalid: ');
  expect(printed).toContain('x\\x1b]0;pwned');
});

it('escapes them in the JSON output too, as the same JSON values', async () => {
  const args = nodeWithHostileText();
  const printed = await status([...args, '--json']);
  expect(printed).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  const parsed = JSON.parse(printed) as { drain: { message: { reason: string } } };
  expect(parsed.drain.message.reason).toBe(`scale in ${HOSTILE}`);
});
