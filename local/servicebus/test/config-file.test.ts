// Entities from a config file at start-up: our own shape and the official emulator's
// Config.json; bad files fail the start with the file, the JSON path and the field.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEntitiesConfig } from '../src/config/entities-file.js';
import { startEmulator } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, json: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof json === 'string' ? json : JSON.stringify(json, null, 2));
  return file;
}

const ours = {
  queues: [
    { name: 'workforce-reports', lockDuration: 'PT30S', maxDeliveryCount: 5 },
    { name: 'fast-locks', lockDuration: 2000, defaultMessageTimeToLive: 'P1D' },
  ],
  topics: [
    {
      name: 'eu-west',
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindow: 'PT5M',
      subscriptions: [
        { name: 'shutdown', lockDuration: 'PT1M', deadLetteringOnMessageExpiration: true },
        {
          name: 'audit',
          rules: [
            { name: 'downscale', filter: { kind: 'correlation', subject: 'graceful-downscale', applicationProperties: { region: 'eu' } } },
            { name: 'nothing', filter: { kind: 'false' } },
          ],
        },
      ],
    },
  ],
};

// As documented for the official emulator (UserConfig.Namespaces[0]...), including the keys it
// has and we do not model (ForwardTo "", RequiresSession false, Logging).
const official = {
  UserConfig: {
    Namespaces: [
      {
        Name: 'sbemulatorns',
        Queues: [
          {
            Name: 'queue.1',
            Properties: {
              DeadLetteringOnMessageExpiration: false,
              DefaultMessageTimeToLive: 'PT1H',
              DuplicateDetectionHistoryTimeWindow: 'PT20S',
              ForwardDeadLetteredMessagesTo: '',
              ForwardTo: '',
              LockDuration: 'PT1M',
              MaxDeliveryCount: 3,
              RequiresDuplicateDetection: false,
              RequiresSession: false,
            },
          },
        ],
        Topics: [
          {
            Name: 'topic.1',
            Properties: { DefaultMessageTimeToLive: 'PT1H', DuplicateDetectionHistoryTimeWindow: 'PT20S', RequiresDuplicateDetection: false },
            Subscriptions: [
              {
                Name: 'subscription.1',
                Properties: { DeadLetteringOnMessageExpiration: false, DefaultMessageTimeToLive: 'PT1H', LockDuration: 'PT1M', MaxDeliveryCount: 3, ForwardDeadLetteredMessagesTo: '', ForwardTo: '', RequiresSession: false },
                Rules: [
                  {
                    Name: 'app-prop-filter-1',
                    Properties: {
                      FilterType: 'Correlation',
                      CorrelationFilter: { ContentType: 'application/text', CorrelationId: 'id1', Label: 'subject1', MessageId: 'msgid1', ReplyTo: 'someQueue', ReplyToSessionId: 'sessionId', SessionId: 'session1', To: 'xyz' },
                    },
                  },
                ],
              },
              {
                Name: 'subscription.2',
                Properties: { MaxDeliveryCount: 3 },
                Rules: [{ Name: 'user-prop-filter-1', Properties: { FilterType: 'Correlation', CorrelationFilter: { Properties: { prop3: 'value3' } } } }],
              },
              { Name: 'subscription.3', Properties: { MaxDeliveryCount: 3 } },
              { Name: 'subscription.4', Rules: [{ Name: 'all', Properties: { FilterType: 'Sql', SqlFilter: { SqlExpression: '1=1' } } }] },
            ],
          },
        ],
      },
    ],
    Logging: { Type: 'File' },
  },
};

describe('config file: our shape', () => {
  it('creates the queues, topics, subscriptions and rules at start-up', async () => {
    const file = await writeConfig('ours.json', ours);
    const emulator = await startEmulator({ port: 0, configFile: file });
    try {
      const { catalogue } = emulator;
      expect(catalogue.getQueue('workforce-reports')?.properties).toMatchObject({ lockDurationMs: 30_000, maxDeliveryCount: 5 });
      expect(catalogue.getQueue('fast-locks')?.properties).toMatchObject({ lockDurationMs: 2000, defaultMessageTimeToLiveMs: 86_400_000 });
      expect(catalogue.getTopic('eu-west')?.properties).toMatchObject({
        requiresDuplicateDetection: true,
        duplicateDetectionHistoryTimeWindowMs: 300_000,
      });
      expect(catalogue.getSubscription('eu-west', 'shutdown')?.properties).toMatchObject({ deadLetteringOnMessageExpiration: true });
      expect(catalogue.listRules('eu-west', 'shutdown')).toEqual([{ name: '$Default', filter: { kind: 'true' } }]);
      expect(catalogue.listRules('eu-west', 'audit')).toEqual([
        { name: 'downscale', filter: { kind: 'correlation', subject: 'graceful-downscale', applicationProperties: { region: 'eu' } } },
        { name: 'nothing', filter: { kind: 'false' } },
      ]);
    } finally {
      await emulator.close();
    }
  });
});

describe('config file: the official emulator Config.json', () => {
  it('creates what the official sample declares', async () => {
    const file = await writeConfig('Config.json', official);
    const emulator = await startEmulator({ port: 0, configFile: file });
    try {
      const { catalogue } = emulator;
      expect(catalogue.getQueue('queue.1')?.properties).toMatchObject({
        lockDurationMs: 60_000,
        maxDeliveryCount: 3,
        defaultMessageTimeToLiveMs: 3_600_000,
        duplicateDetectionHistoryTimeWindowMs: 20_000,
      });
      expect(catalogue.listSubscriptions('topic.1').map((s) => s.name)).toEqual([
        'subscription.1',
        'subscription.2',
        'subscription.3',
        'subscription.4',
      ]);
      expect(catalogue.listRules('topic.1', 'subscription.1')).toEqual([
        {
          name: 'app-prop-filter-1',
          filter: {
            kind: 'correlation',
            contentType: 'application/text',
            correlationId: 'id1',
            subject: 'subject1',
            messageId: 'msgid1',
            replyTo: 'someQueue',
            replyToSessionId: 'sessionId',
            sessionId: 'session1',
            to: 'xyz',
          },
        },
      ]);
      expect(catalogue.listRules('topic.1', 'subscription.2')).toEqual([
        { name: 'user-prop-filter-1', filter: { kind: 'correlation', applicationProperties: { prop3: 'value3' } } },
      ]);
      expect(catalogue.listRules('topic.1', 'subscription.3')).toEqual([{ name: '$Default', filter: { kind: 'true' } }]);
      expect(catalogue.listRules('topic.1', 'subscription.4')).toEqual([{ name: 'all', filter: { kind: 'true' } }]);
    } finally {
      await emulator.close();
    }
  });
});

describe('config file: sessions', () => {
  it('creates session-enabled queues and subscriptions from either shape', async () => {
    const file = await writeConfig('sessions.json', {
      queues: [{ name: 'commands', requiresSession: true }],
      topics: [{ name: 't', subscriptions: [{ name: 'per-node', requiresSession: true }, { name: 'plain' }] }],
    });
    const officialFile = await writeConfig('sessions-official.json', {
      UserConfig: { Namespaces: [{ Name: 'ns', Queues: [{ Name: 'ordered', Properties: { RequiresSession: true } }] }] },
    });
    for (const configFile of [file, officialFile]) {
      const emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false, configFile });
      try {
        const { catalogue } = emulator;
        if (configFile === file) {
          expect(catalogue.getQueue('commands')?.properties.requiresSession).toBe(true);
          expect(catalogue.getSubscription('t', 'per-node')?.properties.requiresSession).toBe(true);
          expect(catalogue.getSubscription('t', 'plain')?.properties.requiresSession).toBe(false);
        } else {
          expect(catalogue.getQueue('ordered')?.properties.requiresSession).toBe(true);
        }
      } finally {
        await emulator.close();
      }
    }
  });
});

describe('config file with a data directory', () => {
  it('is applied again on every start: listed entities get its values, others stay', async () => {
    const file = await writeConfig('restart.json', {
      queues: [{ name: 'listed', lockDuration: 'PT30S' }],
      topics: [{ name: 't', subscriptions: [{ name: 's', rules: [{ name: 'only', filter: { kind: 'correlation', subject: 'x' } }] }] }],
    });
    const dataDir = join(dir, 'restart-data');
    const first = await startEmulator({ port: 0, dataDir, configFile: file });
    first.catalogue.putQueue('listed', { lockDurationMs: 5_000 });
    first.catalogue.putQueue('unlisted', { maxDeliveryCount: 7 });
    first.catalogue.putRule('t', 's', { name: 'extra', filter: { kind: 'true' } });
    await first.close();

    const second = await startEmulator({ port: 0, dataDir, configFile: file });
    try {
      expect(second.catalogue.getQueue('listed')?.properties.lockDurationMs).toBe(30_000);
      expect(second.catalogue.getQueue('unlisted')?.properties.maxDeliveryCount).toBe(7);
      expect(second.catalogue.listRules('t', 's').map((r) => r.name)).toEqual(['only']);
    } finally {
      await second.close();
    }
  });
});

describe('config file: bad files', () => {
  it('fails the start naming the file, the path and the field', async () => {
    const file = await writeConfig('bad.json', { queues: [{ name: 'ok' }, { name: 'q2', lockDuration: 'one minute' }] });
    await expect(startEmulator({ port: 0, configFile: file })).rejects.toThrow(
      `${file}: $.queues[1].lockDuration: must be an ISO-8601 duration such as "PT1M" or a number of milliseconds (got "one minute")`,
    );
  });

  it('reports values out of range with the entry they belong to', async () => {
    const file = await writeConfig('range.json', { queues: [{ name: 'q', maxDeliveryCount: 0 }] });
    await expect(startEmulator({ port: 0, configFile: file })).rejects.toThrow(/range\.json: \$\.queues\[0\]: .*maxDeliveryCount/);
  });

  it('reports unreadable files and invalid JSON', async () => {
    await expect(startEmulator({ port: 0, configFile: join(dir, 'absent.json') })).rejects.toThrow(/absent\.json: cannot read the config file \(ENOENT\)/);
    const file = await writeConfig('broken.json', '{ "queues": [ }');
    await expect(startEmulator({ port: 0, configFile: file })).rejects.toThrow(/broken\.json: not valid JSON/);
  });

  it.each([
    [{ queue: [] }, '$.queue: unknown field'],
    [{ queues: {} }, '$.queues: must be an array'],
    [{ queues: [{ lockDuration: 'PT1M' }] }, '$.queues[0].name: is required'],
    [{ queues: [{ name: 'q', lockDurationMs: 5 }] }, '$.queues[0].lockDurationMs: unknown queue property'],
    [{ topics: [{ name: 't', subscriptions: [{ name: 's', rules: [{ name: 'r', filter: { kind: 'sql' } }] }] }] }, '$.topics[0].subscriptions[0].rules[0].filter.sqlExpression: must be a string'],
    [{ topics: [{ name: 't', subscriptions: [{ name: 's', rules: [{ name: 'r', filter: { kind: 'regex' } }] }] }] }, '$.topics[0].subscriptions[0].rules[0].filter.kind: must be "true", "false", "correlation" or "sql"'],
    [{ topics: [{ name: 't', subscriptions: [{ name: 's', rules: [{ name: 'r', filter: { kind: 'true' }, action: { sqlExpression: 'SET sys.to = 1' } }] }] }] }, '$.topics[0].subscriptions[0].rules[0].action.sqlExpression: actions on system properties (sys.to) are not supported'],
    [{ UserConfig: { Namespaces: [{ Queues: [{ Name: 'q', Properties: { ForwardTo: 'other' } }] }] } }, '$.UserConfig.Namespaces[0].Queues[0].Properties.ForwardTo: auto-forwarding is not supported'],
    [{ UserConfig: { Namespaces: [{ Topics: [{ Name: 't', Subscriptions: [{ Name: 's', Rules: [{ Name: 'r', Properties: { FilterType: 'Sql', SqlFilter: { SqlExpression: "sys.MessageId = " } } }] }] }] }] } }, '$.UserConfig.Namespaces[0].Topics[0].Subscriptions[0].Rules[0].Properties.SqlFilter.SqlExpression: The SQL expression'],
    [{ UserConfig: { Namespaces: [{ Queues: [{ Properties: {} }] }] } }, '$.UserConfig.Namespaces[0].Queues[0].Name: is required'],
    [[], '$: must be a JSON object'],
  ])('refuses %j', (json, message) => {
    expect(() => parseEntitiesConfig(json, 'cfg.json')).toThrow(`cfg.json: ${message}`);
  });
});
