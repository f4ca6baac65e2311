// The rule manager over AMQP (add-rule, remove-rule, enumerate-rules on a subscription's
// $management link), through the SDK's `createRuleManager`: rules as listed, the messages they
// select, what their actions change, and Azure's errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RuleProperties, ServiceBusClient, type ServiceBusReceivedMessage, type ServiceBusReceiver } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../src/index.js';
import { unique } from './support/sdk.js';

/** Receives `count` messages (or what came within `timeoutMs`), then whatever else is there at once. */
async function receiveAll(receiver: ServiceBusReceiver, count: number, timeoutMs = 3000): Promise<ServiceBusReceivedMessage[]> {
  const out: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    out.push(...(await receiver.receiveMessages(count - out.length, { maxWaitTimeInMs: 300 })));
  }
  out.push(...(await receiver.receiveMessages(10, { maxWaitTimeInMs: 300 })));
  return out;
}

async function failure(promise: Promise<unknown>): Promise<{ code?: string; message: string } | undefined> {
  return promise.then(
    () => undefined,
    (e: Error & { code?: string }) => ({ code: e.code, message: e.message }),
  );
}

const orders = [
  { color: 'blue', quantity: 5, priority: 'low' },
  { color: 'red', quantity: 10, priority: 'high' },
  { color: 'yellow', quantity: 5, priority: 'low' },
  { color: 'blue', quantity: 12, priority: 'low' },
  { color: 'red', quantity: 3, priority: 'low' },
];

describe('rule manager over AMQP', () => {
  let emulator: RunningEmulator;
  let client: ServiceBusClient;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false });
    client = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 0 } });
  });

  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  /** A topic with one subscription (which has the `$Default` rule). */
  function topicWithSubscription(): { topic: string; sub: string } {
    const topic = unique('t');
    emulator.catalogue.putTopic(topic);
    emulator.catalogue.putSubscription(topic, 's');
    return { topic, sub: 's' };
  }

  async function listRules(topic: string, sub: string): Promise<RuleProperties[]> {
    const out: RuleProperties[] = [];
    for await (const rule of client.createRuleManager(topic, sub).listRules()) out.push(rule);
    return out;
  }

  async function send(topic: string): Promise<void> {
    await client.createSender(topic).sendMessages(
      orders.map((o) => ({ body: `${o.color}-${o.quantity}`, subject: o.color, correlationId: o.priority, applicationProperties: { ...o } })),
    );
  }

  it('adds, lists and removes SQL, correlation, true and false rules, with their actions', async () => {
    const { topic, sub } = topicWithSubscription();
    const rules = client.createRuleManager(topic, sub);
    expect(await listRules(topic, sub)).toEqual([{ name: '$Default', filter: { sqlExpression: '1=1' }, action: {} }]);

    await rules.createRule('big', { sqlExpression: 'quantity > 10' }, { sqlExpression: "SET size = 'big'" });
    const since = new Date('2000-01-01T00:00:00Z');
    await rules.createRule('red', { subject: 'red', applicationProperties: { priority: 'high', quantity: 10, since } });
    await rules.createRule('none', { sqlExpression: '1=0' });
    await rules.deleteRule('$Default');

    // Listed by name, as Azure lists them.
    const listed = await listRules(topic, sub);
    expect(listed.map((r) => r.name)).toEqual(['big', 'none', 'red']);
    expect(listed[0]).toEqual({ name: 'big', filter: { sqlExpression: 'quantity > 10' }, action: { sqlExpression: "SET size = 'big'" } });
    expect(listed[1]!.filter).toEqual({ sqlExpression: '1=0' });
    expect(listed[2]!.filter).toMatchObject({ subject: 'red', applicationProperties: { priority: 'high', quantity: 10, since } });
    expect(listed[2]!.action).toEqual({});
    // The catalogue (what ARM and the config file see) holds the same rules.
    expect(emulator.catalogue.listRules(topic, sub).map((r) => r.name).sort()).toEqual(['big', 'none', 'red']);
  });

  it('routes by SQL filters on system and (case-insensitive) user properties, and by correlation filters', async () => {
    const { topic } = topicWithSubscription();
    emulator.catalogue.putSubscription(topic, 'yellow');
    emulator.catalogue.putSubscription(topic, 'small-blue');
    emulator.catalogue.putSubscription(topic, 'urgent');
    const setRule = async (sub: string, filter: Parameters<ReturnType<ServiceBusClient['createRuleManager']>['createRule']>[1]) => {
      const rules = client.createRuleManager(topic, sub);
      await rules.deleteRule('$Default');
      await rules.createRule('only', filter);
    };
    await setRule('yellow', { sqlExpression: "sys.label = 'yellow'" });
    await setRule('small-blue', { sqlExpression: "Color = 'blue' AND Quantity <= 5 OR color LIKE 'r_d' AND NOT quantity IN (10)" });
    await setRule('urgent', { correlationId: 'high' });
    await send(topic);

    const bodies = async (sub: string, expected: number) =>
      (await receiveAll(client.createReceiver(topic, sub, { receiveMode: 'receiveAndDelete' }), expected)).map((m) => m.body);
    expect(await bodies('yellow', 1)).toEqual(['yellow-5']);
    expect(await bodies('small-blue', 2)).toEqual(['blue-5', 'red-3']);
    expect(await bodies('urgent', 1)).toEqual(['red-10']);
    expect(await bodies('s', orders.length)).toHaveLength(orders.length); // $Default: everything
  });

  it("applies a rule's action to a copy of its own, named by RuleName, next to the plain copy", async () => {
    const { topic, sub } = topicWithSubscription();
    const rules = client.createRuleManager(topic, sub);
    await rules.createRule('tag-blue', { applicationProperties: { color: 'blue' } }, { sqlExpression: "SET Priority = 'high'; SET total = quantity * 2; REMOVE color" });
    await client.createSender(topic).sendMessages([
      { body: 'blue', applicationProperties: { color: 'blue', quantity: 4, priority: 'low' } },
      { body: 'red', applicationProperties: { color: 'red', quantity: 1, priority: 'low' } },
    ]);
    const got = await receiveAll(client.createReceiver(topic, sub, { receiveMode: 'receiveAndDelete' }), 3);
    const plain = got.filter((m) => m.applicationProperties?.RuleName === undefined);
    const tagged = got.filter((m) => m.applicationProperties?.RuleName === 'tag-blue');
    expect(plain.map((m) => m.body)).toEqual(['blue', 'red']);
    expect(tagged).toHaveLength(1);
    expect(tagged[0]!.body).toBe('blue');
    expect(tagged[0]!.applicationProperties).toEqual({ priority: 'high', quantity: 4, total: 8, RuleName: 'tag-blue' });
    // Each copy is a message of its own.
    expect(new Set(got.map((m) => m.sequenceNumber!.toString())).size).toBe(3);
  });

  it('refuses as Azure does: an existing rule, a missing rule, bad SQL, a system property in an action', async () => {
    const { topic, sub } = topicWithSubscription();
    const rules = client.createRuleManager(topic, sub);
    await rules.createRule('r', { subject: 'yellow' });

    const exists = await failure(rules.createRule('r', { subject: 'red' }));
    expect(exists?.code).toBe('MessagingEntityAlreadyExists');
    expect(exists?.message).toMatch(/The messaging entity '.*\/Rules\/r' already exists\./);

    const missing = await failure(rules.deleteRule('nope'));
    expect(missing?.code).toBe('MessagingEntityNotFound');
    expect(missing?.message).toContain(`/${topic}/Subscriptions/${sub}/Rules/nope' could not be found.`);

    const bad = await failure(rules.createRule('bad', { sqlExpression: 'color = ' }));
    expect(bad?.message).toMatch(/rule\.filter\.sqlExpression.*the end of the expression at position 8/);
    const unknownSys = await failure(rules.createRule('bad', { sqlExpression: "sys.colour = 'red'" }));
    expect(unknownSys?.message).toMatch(/'colour' is not a system property/);
    const sysAction = await failure(rules.createRule('bad', { sqlExpression: '1=1' }, { sqlExpression: "SET sys.label = 'x'" }));
    expect(sysAction?.message).toMatch(/system properties \(sys\.label\) are not supported/);
    expect((await listRules(topic, sub)).map((r) => r.name)).toEqual(['$Default', 'r']);

    const noSubscription = await failure(client.createRuleManager(topic, 'ghost').createRule('x', { subject: 'y' }));
    expect(noSubscription?.code).toBe('MessagingEntityNotFound');
  });

  it('keeps rules, their actions and timestamp values across a restart on --data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-rules-'));
    try {
      const since = new Date('2001-02-03T04:05:06Z');
      let persistent = await startEmulator({ port: 0, armPort: false, amqpsPort: false, dataDir: dir });
      persistent.catalogue.putTopic('t');
      persistent.catalogue.putSubscription('t', 's');
      const first = new ServiceBusClient(persistent.connectionString);
      await first.createRuleManager('t', 's').createRule('dated', { applicationProperties: { since } }, { sqlExpression: "SET seen = 'yes'" });
      await first.close();
      await persistent.close();

      persistent = await startEmulator({ port: 0, armPort: false, amqpsPort: false, dataDir: dir });
      const second = new ServiceBusClient(persistent.connectionString);
      const listed: RuleProperties[] = [];
      for await (const rule of second.createRuleManager('t', 's').listRules()) listed.push(rule);
      expect(listed.find((r) => r.name === 'dated')).toEqual({
        name: 'dated',
        filter: expect.objectContaining({ applicationProperties: { since } }),
        action: { sqlExpression: "SET seen = 'yes'" },
      });
      await second.close();
      await persistent.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
