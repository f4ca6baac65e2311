import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchedules, parseConfig } from '../../src/config.js';

const CONN = 'Endpoint=sb://localhost:5672;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true';
const ARM = { AZURE_SUBSCRIPTION_ID: 'sub', SERVICEBUS_RESOURCE_GROUP: 'rg', SERVICEBUS_NAMESPACE: 'ns' };

describe('parseConfig', () => {
  it('takes a connection string locally and an identity namespace in Azure', () => {
    expect(parseConfig({ ServiceBusConnection: CONN }).serviceBus).toEqual({ kind: 'connectionString', connectionString: CONN });
    expect(parseConfig({ ServiceBusConnection__fullyQualifiedNamespace: 'ns.servicebus.windows.net', ServiceBusConnection__clientId: 'abc' }).serviceBus).toEqual({
      kind: 'identity',
      fullyQualifiedNamespace: 'ns.servicebus.windows.net',
      clientId: 'abc',
    });
  });

  it('takes host:port as the namespace (the emulator\'s AMQPS listener), and no other garbage', () => {
    expect(parseConfig({ ServiceBusConnection__fullyQualifiedNamespace: 'localhost:5671' }).serviceBus).toEqual({ kind: 'identity', fullyQualifiedNamespace: 'localhost:5671' });
    for (const bad of ['localhost:', 'localhost:0', 'localhost:65536', 'sb://ns.servicebus.windows.net/', 'ns.servicebus.windows.net/x', '-ns.example', 'a b']) {
      expect(() => parseConfig({ ServiceBusConnection__fullyQualifiedNamespace: bad }), bad).toThrow(/ServiceBusConnection__fullyQualifiedNamespace: must be a host name/);
    }
  });

  it('takes the ARM token scope an endpoint that stands in for Azure needs', () => {
    const arm = parseConfig({ ServiceBusConnection: CONN, ...ARM, SERVICEBUS_ARM_CREDENTIAL_SCOPE: 'https://management.azure.com/.default' }).arm;
    expect(arm?.credentialScope).toBe('https://management.azure.com/.default');
    for (const bad of ['https://management.azure.com/', 'management.azure.com/.default', 'https://x/y/.default']) {
      expect(() => parseConfig({ ServiceBusConnection: CONN, ...ARM, SERVICEBUS_ARM_CREDENTIAL_SCOPE: bad }), bad).toThrow(/SERVICEBUS_ARM_CREDENTIAL_SCOPE: must be an ARM audience/);
    }
  });

  it('names the missing or bad setting', () => {
    expect(() => parseConfig({})).toThrow(/app setting ServiceBusConnection: is missing/);
    expect(() => parseConfig({ ServiceBusConnection: 'nope' })).toThrow(/ServiceBusConnection: is not a Service Bus connection string/);
    expect(() => parseConfig({ ServiceBusConnection: CONN, AZURE_SUBSCRIPTION_ID: 'x' })).toThrow(/SERVICEBUS_RESOURCE_GROUP: is missing/);
    expect(() => parseConfig({ ServiceBusConnection: CONN, ...ARM, SERVICEBUS_ARM_ENDPOINT: 'http://x' })).toThrow(/SERVICEBUS_ARM_ENDPOINT/);
    expect(() => parseConfig({ ServiceBusConnection: CONN, ...ARM, SERVICEBUS_ARM_CREDENTIAL: 'emulator' })).toThrow(/SERVICEBUS_ARM_CREDENTIAL: "emulator" needs/);
    expect(() => parseConfig({ ServiceBusConnection: CONN, ...ARM, SERVICEBUS_ARM_CA_FILE: '/no/such/file.pem' })).toThrow(/SERVICEBUS_ARM_CA_FILE: cannot read/);
  });

  it('leaves provisioning unconfigured when no ARM setting is given, and freezes the result', () => {
    const config = parseConfig({ ServiceBusConnection: CONN });
    expect(config.arm).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
    const withArm = parseConfig({ ServiceBusConnection: CONN, ...ARM, SERVICEBUS_ARM_ENDPOINT: 'https://localhost:5443', SERVICEBUS_ARM_CREDENTIAL: 'emulator' });
    expect(withArm.arm).toEqual({ subscriptionId: 'sub', resourceGroup: 'rg', namespace: 'ns', endpoint: 'https://localhost:5443', credential: 'emulator' });
  });
});

describe('parseConfig: the fleet inventory\'s storage account', () => {
  const STORAGE = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net';
  it('takes WORKFORCE_INVENTORY_STORAGE, else AzureWebJobsStorage, as a connection string or a table endpoint for an identity', () => {
    expect(parseConfig({ ServiceBusConnection: CONN }).inventory).toBeUndefined();
    expect(parseConfig({ ServiceBusConnection: CONN, AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).inventory).toEqual({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: 'UseDevelopmentStorage=true' });
    expect(parseConfig({ ServiceBusConnection: CONN, AzureWebJobsStorage: 'UseDevelopmentStorage=true', WORKFORCE_INVENTORY_STORAGE: STORAGE }).inventory).toMatchObject({ setting: 'WORKFORCE_INVENTORY_STORAGE', connectionString: STORAGE });
    expect(parseConfig({ ServiceBusConnection: CONN, AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net/', AzureWebJobsStorage__clientId: 'id-1' }).inventory).toEqual({
      kind: 'identity',
      setting: 'AzureWebJobsStorage',
      tableServiceUri: 'https://acct.table.core.windows.net',
      clientId: 'id-1',
    });
    // An emulator's path-style endpoint names the account in the path.
    expect(parseConfig({ ServiceBusConnection: CONN, AzureWebJobsStorage__tableServiceUri: 'https://127.0.0.1:10002/devstoreaccount1' }).inventory).toMatchObject({
      tableServiceUri: 'https://127.0.0.1:10002/devstoreaccount1',
    });
  });

  it('names a bad setting', () => {
    expect(() => parseConfig({ ServiceBusConnection: CONN, WORKFORCE_INVENTORY_STORAGE: 'nope' })).toThrow(/app setting WORKFORCE_INVENTORY_STORAGE: is not a Storage connection string/);
    expect(() => parseConfig({ ServiceBusConnection: CONN, AzureWebJobsStorage__tableServiceUri: 'http://acct.table.core.windows.net' })).toThrow(/AzureWebJobsStorage__tableServiceUri: must be the account's table endpoint/);
    expect(() => parseConfig({ ServiceBusConnection: CONN, AzureWebJobsStorage__tableServiceUri: 'https://127.0.0.1:10002/a/b' })).toThrow(/AzureWebJobsStorage__tableServiceUri: must be the account's table endpoint/);
  });
});

describe('loadSchedules', () => {
  const entry = { name: 'nightly', schedule: '0 0 22 * * *', topic: 'eu-west', count: 5, gracePeriod: '2h', reason: 'nightly' };
  it('reads WORKFORCE_SCHEDULES first, then schedules.json, else nothing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'schedules-'));
    try {
      expect(loadSchedules({}, dir)).toEqual([]);
      writeFileSync(path.join(dir, 'schedules.json'), JSON.stringify([{ ...entry, name: 'from-file' }]));
      expect(loadSchedules({}, dir).map((e) => e.name)).toEqual(['from-file']);
      expect(loadSchedules({ WORKFORCE_SCHEDULES: JSON.stringify([entry]) }, dir)).toEqual([
        { name: 'nightly', schedule: '0 0 22 * * *', topic: 'eu-west', request: { count: 5, gracePeriod: '2h', reason: 'nightly' } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the setting and the field of a bad entry', () => {
    const load = (entries: unknown) => () => loadSchedules({ WORKFORCE_SCHEDULES: JSON.stringify(entries) }, '/nonexistent');
    expect(load([{ ...entry, count: 0 }])).toThrow(/WORKFORCE_SCHEDULES: WORKFORCE_SCHEDULES\[0\]\.count/);
    expect(load([{ ...entry, schedule: '0 22 * * *' }])).toThrow(/\[0\]\.schedule: schedule must be a six-field NCRONTAB/);
    expect(load([{ ...entry, deadline: '2030-01-01T00:00:00Z' }])).toThrow(/\[0\]\.deadline: unknown field/);
    expect(load([entry, entry])).toThrow(/\[1\]\.name: name "nightly" is used twice/);
    expect(load({})).toThrow(/must be a JSON array/);
    expect(() => loadSchedules({ WORKFORCE_SCHEDULES: '[{' }, '/nonexistent')).toThrow(/WORKFORCE_SCHEDULES is not JSON/);
  });
});
