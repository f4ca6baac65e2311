// App settings parsed once into an immutable object. Nothing else in the app reads
// process.env: a missing or bad setting is named here, once, with what to put in it.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_REPLY_TO, DEFAULT_SUBSCRIPTION } from '@workforce/worker-agent/contract';
import { parseSchedules, type ScheduleEntry } from './domain/schedule.js';

/** The app setting prefix of the Service Bus connection (triggers and SDK clients). */
export const SERVICE_BUS_CONNECTION = 'ServiceBusConnection';
export const REPORTS_QUEUE = DEFAULT_REPLY_TO;
export const SHUTDOWN_SUBSCRIPTION = DEFAULT_SUBSCRIPTION;

export type ServiceBusAccess =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; fullyQualifiedNamespace: string; clientId?: string };

export interface ArmSettings {
  subscriptionId: string;
  resourceGroup: string;
  namespace: string;
  /** ARM endpoint; Azure's public cloud unless set (the emulator locally). */
  endpoint?: string;
  /** PEM of a CA to trust for the ARM endpoint only (the emulator's certificate). */
  caCertificate?: string;
  /** `default`: DefaultAzureCredential. `emulator`: a fixed token, only for a loopback endpoint. */
  credential: 'default' | 'emulator';
  /**
   * The token scope (the SDK's `credentialScopes`). Unset, the SDK asks for `<endpoint>/.default`,
   * right for Azure's clouds; an endpoint that stands in for one (the emulator) needs that cloud's.
   */
  credentialScope?: string;
}

/** The storage account of the fleet inventory (Table Storage). */
export type InventoryStorage =
  | { kind: 'connectionString'; setting: string; connectionString: string }
  | { kind: 'identity'; setting: string; tableServiceUri: string; clientId?: string };

/** The inventory's own setting; unset, the app's storage account (AzureWebJobsStorage) holds it. */
export const INVENTORY_STORAGE = 'WORKFORCE_INVENTORY_STORAGE';
const APP_STORAGE = 'AzureWebJobsStorage';

export interface Config {
  serviceBus: ServiceBusAccess;
  /** Absent when no storage account is configured: the inventory is off (the API answers 503). */
  inventory?: InventoryStorage;
  /** Absent when the three ARM settings are all unset: PUT /api/topics answers 503 then. */
  arm?: ArmSettings;
}

export class ConfigError extends Error {
  constructor(readonly setting: string, message: string) {
    super(`app setting ${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === '' ? undefined : v;
}

/**
 * A namespace's host name, with an optional port: the SDK connects to `host:port` over TLS (the
 * emulator's AMQPS listener); Azure's namespaces need no port.
 */
export function isNamespaceHost(text: string): boolean {
  const m = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::(\d{1,5}))?$/.exec(text);
  return m !== null && (m[1] === undefined || (Number(m[1]) > 0 && Number(m[1]) <= 65_535));
}

function serviceBusAccess(env: Env): ServiceBusAccess {
  const conn = value(env, SERVICE_BUS_CONNECTION) ?? value(env, `AzureWebJobs${SERVICE_BUS_CONNECTION}`);
  const fqns = value(env, `${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`);
  if (conn !== undefined) {
    if (!/Endpoint=sb:\/\//i.test(conn)) {
      throw new ConfigError(SERVICE_BUS_CONNECTION, 'is not a Service Bus connection string (Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...)');
    }
    return { kind: 'connectionString', connectionString: conn };
  }
  if (fqns !== undefined) {
    if (!isNamespaceHost(fqns)) {
      throw new ConfigError(`${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`, `must be a host name such as "my-ns.servicebus.windows.net" (or host:port, e.g. the emulator's "localhost:5671"), got "${fqns}"`);
    }
    const clientId = value(env, `${SERVICE_BUS_CONNECTION}__clientId`);
    return { kind: 'identity', fullyQualifiedNamespace: fqns, ...(clientId && { clientId }) };
  }
  throw new ConfigError(
    SERVICE_BUS_CONNECTION,
    `is missing: set ${SERVICE_BUS_CONNECTION} to a connection string (locally) or ${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace (managed identity in Azure)`,
  );
}

const ARM_REQUIRED = ['AZURE_SUBSCRIPTION_ID', 'SERVICEBUS_RESOURCE_GROUP', 'SERVICEBUS_NAMESPACE'] as const;

function armSettings(env: Env): ArmSettings | undefined {
  const given = ARM_REQUIRED.filter((n) => value(env, n) !== undefined);
  if (given.length === 0) return undefined;
  const missing = ARM_REQUIRED.find((n) => value(env, n) === undefined);
  if (missing) throw new ConfigError(missing, `is missing (provisioning needs all of ${ARM_REQUIRED.join(', ')})`);
  const endpoint = value(env, 'SERVICEBUS_ARM_ENDPOINT');
  if (endpoint !== undefined && !/^https:\/\/[^/]+\/?$/.test(endpoint)) {
    throw new ConfigError('SERVICEBUS_ARM_ENDPOINT', `must be an https:// origin such as "https://localhost:5443", got "${endpoint}"`);
  }
  const credential = value(env, 'SERVICEBUS_ARM_CREDENTIAL') ?? 'default';
  if (credential !== 'default' && credential !== 'emulator') {
    throw new ConfigError('SERVICEBUS_ARM_CREDENTIAL', `must be "default" (DefaultAzureCredential) or "emulator", got "${credential}"`);
  }
  // A fixed token is only ever sent to this machine: the emulator accepts any token, Azure none.
  if (credential === 'emulator' && !(endpoint && /^https:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?\/?$/.test(endpoint))) {
    throw new ConfigError('SERVICEBUS_ARM_CREDENTIAL', '"emulator" needs SERVICEBUS_ARM_ENDPOINT on localhost');
  }
  const credentialScope = value(env, 'SERVICEBUS_ARM_CREDENTIAL_SCOPE');
  if (credentialScope !== undefined && !/^https:\/\/[^/?#\s]+\/\.default$/.test(credentialScope)) {
    throw new ConfigError('SERVICEBUS_ARM_CREDENTIAL_SCOPE', `must be an ARM audience with /.default such as "https://management.azure.com/.default", got "${credentialScope}"`);
  }
  const caFile = value(env, 'SERVICEBUS_ARM_CA_FILE');
  let caCertificate: string | undefined;
  if (caFile !== undefined) {
    try {
      caCertificate = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError('SERVICEBUS_ARM_CA_FILE', `cannot read ${caFile}: ${(err as Error).message}`);
    }
  }
  return {
    subscriptionId: value(env, 'AZURE_SUBSCRIPTION_ID')!,
    resourceGroup: value(env, 'SERVICEBUS_RESOURCE_GROUP')!,
    namespace: value(env, 'SERVICEBUS_NAMESPACE')!,
    ...(endpoint && { endpoint: endpoint.replace(/\/$/, '') }),
    ...(caCertificate && { caCertificate }),
    credential,
    ...(credentialScope && { credentialScope }),
  };
}

/**
 * The inventory's account, as the Functions host names connections: the setting holds a
 * connection string, or `<setting>__tableServiceUri` (with `__clientId` for a user-assigned
 * identity) names the account's table endpoint, reached with a managed identity.
 */
function inventoryStorage(env: Env): InventoryStorage | undefined {
  for (const setting of [INVENTORY_STORAGE, APP_STORAGE]) {
    const conn = value(env, setting);
    if (conn !== undefined) {
      if (!/(^|;)\s*(AccountName=|TableEndpoint=|UseDevelopmentStorage=true)/i.test(conn)) {
        throw new ConfigError(setting, 'is not a Storage connection string (DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net)');
      }
      return { kind: 'connectionString', setting, connectionString: conn };
    }
    const uri = value(env, `${setting}__tableServiceUri`);
    if (uri !== undefined) {
      // A path names the account on an emulator's path-style endpoint (Azurite: https://127.0.0.1:10002/devstoreaccount1).
      if (!/^https:\/\/[^/?#]+(\/[^/?#]+)?\/?$/.test(uri)) {
        throw new ConfigError(`${setting}__tableServiceUri`, `must be the account's table endpoint such as "https://myaccount.table.core.windows.net" (an emulator's: "https://127.0.0.1:10002/devstoreaccount1"), got "${uri}"`);
      }
      const clientId = value(env, `${setting}__clientId`);
      return { kind: 'identity', setting, tableServiceUri: uri.replace(/\/$/, ''), ...(clientId && { clientId }) };
    }
  }
  return undefined;
}

export function parseConfig(env: Env): Config {
  const arm = armSettings(env);
  const inventory = inventoryStorage(env);
  return Object.freeze({
    serviceBus: Object.freeze(serviceBusAccess(env)),
    ...(arm && { arm: Object.freeze(arm) }),
    ...(inventory && { inventory: Object.freeze(inventory) }),
  });
}

let cached: Config | undefined;

/** The app's configuration, parsed on first use and then kept (app settings do not change while the worker runs). */
export function config(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}

/**
 * Scheduled drains: the WORKFORCE_SCHEDULES app setting (JSON array), else `schedules.json` in
 * the app folder, else none. Read when the app loads, because each entry registers a timer
 * function; a bad entry stops the app from loading, naming the setting and the field.
 */
export function loadSchedules(env: Env = process.env, appDir: string = process.cwd()): ScheduleEntry[] {
  const setting = value(env, 'WORKFORCE_SCHEDULES');
  const file = path.join(appDir, 'schedules.json');
  const [text, source] = setting !== undefined ? [setting, 'WORKFORCE_SCHEDULES'] : existsSync(file) ? [readFileSync(file, 'utf8'), 'schedules.json'] : [undefined, ''];
  if (text === undefined) return [];
  const parsed = parseSchedules(text, source);
  if (!parsed.ok) throw new ConfigError(source, `${parsed.problem.field}: ${parsed.problem.detail}`);
  return parsed.value;
}
