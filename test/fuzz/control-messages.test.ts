// Fuzzing control messages through the real agent: a `workforce-agent listen` process (the
// shipped bundle) with a real worker, on the embedded emulator. Random bytes, wrong types, huge
// bodies, unknown operations, odd encodings (UTF-16, BOMs, invalid UTF-8, JSON encoded twice or
// three times, AMQP value and sequence sections) are dead-lettered with `InvalidControlMessage`
// and a description; valid messages in between (odd encodings too) are acted on; afterwards the
// agent is alive and one graceful-downscale still drains its worker.

import type { ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Cluster, type TestNode } from '../../worker-agent/test/bus/cluster.js';
import { buildArtifacts, killAll, removeTempDirs, waitFor } from '../../worker-agent/test/helpers.js';
import { Random, fuzzRuns, fuzzSeed } from './random.js';

/** The subscription's limit (the emulator's default maxMessageSizeInBytes, 256 KiB), less room for headers. */
const MAX_BODY = 256 * 1024 - 2048;
const PAST = '2001-01-01T00:00:00Z';

let cluster: Cluster;
let node: TestNode;
beforeAll(async () => {
  cluster = await Cluster.start(await buildArtifacts(), { maxDeliveryCount: 10 });
  node = await cluster.addNode(['node']);
}, 120_000);
afterAll(async () => {
  await cluster?.close();
  await killAll();
  removeTempDirs();
});

/** A raw AMQP message (the SDK's AmqpAnnotatedMessage): the body section type chosen by the sender. */
interface AmqpAnnotatedMessage {
  body: unknown;
  bodyType: 'value' | 'sequence' | 'data';
  properties: { messageId: string };
}
type Outgoing = ServiceBusMessage | AmqpAnnotatedMessage;
interface Sent {
  messageId: string;
  kind: string;
  /** invalid → dead-lettered; expired → completed with an `expired` report; duplicate → completed, no report. */
  expect: 'invalid' | 'expired' | 'duplicate' | 'intake-stopped';
  message: Outgoing;
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
const data = (messageId: string, body: Buffer, contentType = 'application/json'): ServiceBusMessage => ({ messageId, body, contentType });
const amqp = (messageId: string, body: unknown, bodyType: 'value' | 'sequence' | 'data'): AmqpAnnotatedMessage => ({ body, bodyType, properties: { messageId } });

/** A body the contract rejects, and how. */
const INVALID: Array<[string, (r: Random) => Buffer | { value: unknown } | { sequence: unknown[][] }]> = [
  ['random bytes', (r) => r.bytes(r.size(4000) + 1)],
  ['empty body', () => Buffer.alloc(0)],
  ['JSON, not an object', (r) => utf8(JSON.stringify(r.pick([[], [{ operation: 'graceful-downscale' }], 'graceful-downscale', 42, null, true, r.text(20)])))],
  ['no operation', (r) => utf8(JSON.stringify({ drainId: 'd', reason: r.text(20), Operation: 'graceful-downscale' }))],
  ['operation of a wrong type', (r) => utf8(JSON.stringify({ operation: r.pick([1, true, ['graceful-downscale'], { name: 'graceful-downscale' }, '']) }))],
  ['unknown operation', (r) => utf8(JSON.stringify({ operation: r.pick(['Graceful-Downscale', 'graceful-downscale ', 'shutdown', 'kill', r.text(30)]).replace(/^(graceful-downscale|do-not-accept-new-tasks)$/, 'x') }))],
  ['field of a wrong type', (r) => {
    const [field, value] = r.pick<[string, unknown]>([['drainId', 7], ['drainId', ''], ['reason', {}], ['requestedBy', []], ['deadline', 'tomorrow'], ['deadline', 1700000000], ['notAfter', '2099-01-01'], ['replyTo', '../etc'], ['replyTo', 5]]);
    return utf8(JSON.stringify({ operation: r.pick(['graceful-downscale', 'do-not-accept-new-tasks']), [field]: value }));
  }],
  // It would come back in reports and go into the control plane's durable URLs.
  ['drainId outside the pattern', (r) => utf8(JSON.stringify({ operation: 'graceful-downscale', drainId: r.pick(['victim/terminate?reason=x&', 'a/b', '../d', 'x y', '-x', 'd'.repeat(65)]) }))],
  ['huge body (reason too long)', (r) => utf8(JSON.stringify({ operation: 'graceful-downscale', reason: 'x'.repeat(r.int(1025, MAX_BODY - 100)) }))],
  ['huge body (random bytes)', (r) => r.bytes(r.int(100_000, MAX_BODY))],
  ['UTF-16LE with BOM', () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"operation":"graceful-downscale"}', 'utf16le')])],
  ['UTF-16LE without BOM', () => Buffer.from('{"operation":"graceful-downscale"}', 'utf16le')],
  ['UTF-16BE with BOM', () => Buffer.from(Buffer.from('\ufeff{"operation":"graceful-downscale"}', 'utf16le').swap16())],
  ['invalid UTF-8', (r) => Buffer.concat([utf8('{"operation":"graceful-downscale","reason":"'), Buffer.from(r.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]])), utf8('"}')])],
  ['UTF-8 BOM, then no operation', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('{"reason":"bom"}')])],
  ['JSON encoded three times', () => utf8(JSON.stringify(JSON.stringify(JSON.stringify({ operation: 'graceful-downscale' }))))],
  ['JSON encoded twice, unknown operation', () => utf8(JSON.stringify(JSON.stringify({ operation: 'reboot' })))],
  ['truncated JSON', () => utf8('{"operation":"graceful-downscale"')],
  ['AMQP value: object without operation', (r) => ({ value: { reason: r.text(10) } })],
  ['AMQP value: not an object', (r) => ({ value: r.pick([42, 'graceful-downscale', true, [1, 2]]) })],
  ['AMQP sequence section', () => ({ sequence: [[{ operation: 'graceful-downscale' }]] })],
];

/** Valid bodies, expired on arrival: the agent acts by completing them with an `expired` report. */
const VALID_EXPIRED: Array<[string, (body: Record<string, unknown>) => Buffer | { value: unknown }]> = [
  ['UTF-8 JSON', (b) => utf8(JSON.stringify(b))],
  ['UTF-8 JSON with a BOM', (b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(JSON.stringify(b))])],
  ['JSON encoded twice', (b) => utf8(JSON.stringify(JSON.stringify(b)))],
  ['AMQP value section (a map)', (b) => ({ value: b })],
  ['AMQP value section (a JSON string)', (b) => ({ value: JSON.stringify(b) })],
  ['unknown fields', (b) => utf8(JSON.stringify({ ...b, colour: 'blue', nested: { a: [1, 2] } }))],
];

function outgoing(messageId: string, body: Buffer | { value: unknown } | { sequence: unknown[][] }, r: Random): Outgoing {
  if (Buffer.isBuffer(body)) return data(messageId, body, r.pick(['application/json', 'text/plain', 'application/octet-stream', 'application/json; charset=utf-16']));
  if ('value' in body) return amqp(messageId, body.value, 'value');
  return amqp(messageId, body.sequence, 'sequence');
}

function generate(r: Random, runs: number): Sent[] {
  const sent: Sent[] = [];
  const intakeAt = r.int(0, runs - 1);
  for (let i = 0; i < runs; i++) {
    const messageId = `fuzz-${i}`;
    if (i === intakeAt) {
      sent.push({ messageId, kind: 'valid do-not-accept-new-tasks', expect: 'intake-stopped', message: data(messageId, utf8(JSON.stringify({ operation: 'do-not-accept-new-tasks', drainId: 'fuzz-intake' }))) });
      continue;
    }
    const roll = r.next();
    if (roll < 0.7) {
      const [kind, make] = r.pick(INVALID);
      sent.push({ messageId, kind, expect: 'invalid', message: outgoing(messageId, make(r), r) });
    } else if (roll < 0.93 || sent.every((s) => s.expect !== 'expired')) {
      const [kind, make] = r.pick(VALID_EXPIRED);
      const body = { operation: r.pick(['graceful-downscale', 'do-not-accept-new-tasks']), drainId: 'fuzz-expired', notAfter: PAST, reason: r.text(30) || 'fuzz' };
      sent.push({ messageId, kind: `valid, expired: ${kind}`, expect: 'expired', message: outgoing(messageId, make(body), r) });
    } else {
      // Redelivery of a message this node already handled: the agent's own dedupe completes it.
      const earlier = r.pick(sent.filter((s) => s.expect === 'expired'));
      sent.push({ messageId: earlier.messageId, kind: 'duplicate messageId', expect: 'duplicate', message: earlier.message });
    }
  }
  return sent;
}

/** Every message in the subscription's dead-letter queue (once the subscription itself is empty). */
async function deadLetters(seed: number): Promise<ServiceBusReceivedMessage[]> {
  await waitFor(async () => (await cluster.remaining()).length === 0, 60_000, () => `an empty subscription (seed ${seed})`);
  const receiver = cluster.client.createReceiver(cluster.topic, 'shutdown', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
  const got: ServiceBusReceivedMessage[] = [];
  try {
    for (;;) {
      const batch = await receiver.receiveMessages(100, { maxWaitTimeInMs: 500 });
      if (batch.length === 0) return got;
      got.push(...batch);
    }
  } finally {
    await receiver.close();
  }
}

const DEFAULT_RUNS = 120;

it('dead-letters every invalid control message with a reason, acts on the valid ones, and still drains', { timeout: 90_000 + fuzzRuns(DEFAULT_RUNS) * 500 }, async () => {
  const seed = fuzzSeed('control messages');
  const runs = fuzzRuns(DEFAULT_RUNS);
  const sent = generate(Random.forCase(seed, 0), runs);
  const sender = cluster.client.createSender(cluster.topic);
  for (const s of sent) await sender.sendMessages(s.message);
  await sender.close();

  const invalid = sent.filter((s) => s.expect === 'invalid');
  const expired = sent.filter((s) => s.expect === 'expired');
  const dead = await deadLetters(seed);
  const kindOf = new Map(sent.map((s) => [s.messageId, s.kind]));
  const problems: string[] = [];
  for (const d of dead) {
    const id = String(d.messageId);
    if (!invalid.some((s) => s.messageId === id)) problems.push(`${id} (${kindOf.get(id)}) was dead-lettered: ${d.deadLetterReason} ${d.deadLetterErrorDescription}`);
    else if (d.deadLetterReason !== 'InvalidControlMessage' || !d.deadLetterErrorDescription) problems.push(`${id} (${kindOf.get(id)}) dead-lettered with reason ${d.deadLetterReason}, description ${JSON.stringify(d.deadLetterErrorDescription)}`);
  }
  const deadIds = new Set(dead.map((d) => String(d.messageId)));
  for (const s of invalid) if (!deadIds.has(s.messageId)) problems.push(`${s.messageId} (${s.kind}) not dead-lettered`);
  expect(problems, `seed ${seed}`).toEqual([]);

  // Valid ones were acted on: an `expired` report each (the duplicates none), the intake stop reported.
  await waitFor(() => cluster.reportsOf('intake-stopped').length === 1 && new Set(cluster.reportsOf('expired').map((r) => r.messageId)).size === new Set(expired.map((s) => s.messageId)).size, 20_000, () => `reports (seed ${seed})`);
  expect(new Set(cluster.reportsOf('expired').map((r) => r.messageId)), `seed ${seed}`).toEqual(new Set(expired.map((s) => s.messageId)));
  expect(cluster.reportsOf('expired').length, `seed ${seed}: one report per expired message, none for duplicates`).toBe(new Set(expired.map((s) => s.messageId)).size);
  expect(new Set(cluster.reportsOf('rejected').map((r) => r.messageId)), `seed ${seed}`).toEqual(new Set(invalid.map((s) => s.messageId)));
  expect(node.state()?.state, `seed ${seed}`).toBe('intake-stopped');

  // Still alive, and still draining correctly: one graceful-downscale → SIGTERM → the worker exits.
  expect(node.agent.child.exitCode, node.agent.output().slice(-2000)).toBeNull();
  expect(node.drainRequested()).toEqual([]);
  await cluster.publish([{ body: { operation: 'graceful-downscale', drainId: 'after-fuzz' }, messageId: 'after-fuzz/0' }]);
  await waitFor(() => node.state()?.state === 'drained', 30_000, () => `the node drained (seed ${seed})`);
  expect(node.drainRequested()).toEqual(node.workerIds);
  expect(node.queue.events().find((e) => e.event === 'drain-requested')?.['signal']).toBe('SIGTERM');
  expect((await node.workers[0]!.exited).code).toBe(0);
  await waitFor(() => cluster.drainedNodes().includes(node.id), 10_000, () => 'the drained report');
  expect(node.agent.child.exitCode).toBeNull();
  console.log(`[fuzz] control messages: ${runs} sent (${invalid.length} invalid: ${[...new Set(invalid.map((s) => s.kind))].length} kinds; ${expired.length} valid and expired; ${sent.filter((s) => s.expect === 'duplicate').length} duplicates; 1 intake stop), then one drain`);
});
