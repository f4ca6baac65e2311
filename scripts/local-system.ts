// The control plane on this machine, the one way `npm start`, the demo and the tests run it: the
// Service Bus emulator, the reports queue provisioned through the emulator's ARM endpoint by the
// app's own provisioning code (so its settings are those of src/domain/entities.ts, as in Azure),
// Azurite's Table service as the app's storage account (the fleet inventory), and the local
// Functions host serving the app with the settings that point it at both. (The host keeps its
// durable state in its own SQLite store; it reads nothing of AzureWebJobsStorage.)
//
// With `identities`, every process is authenticated as Azure does it, by managed identity: the
// local token issuer, the emulator validating its tokens on AMQPS and ARM with the role
// assignments of scripts/local-identities.ts, and the host as a process of its own with the
// app's identity; no process is given a SAS key.

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { startHost, type Clock, type Host, type Logger } from '@workforce/functions-host';
import { loadOrCreateCertificate, startEmulator, type EmulatorOptions, type RunningEmulator } from '@workforce/servicebus-emulator';
import { provisionReportsQueue } from '../src/adapters/provision.js';
import type { ArmSettings } from '../src/config.js';
import { startHostProcess, type HostProcess } from './host-process.js';
import { APP_IDENTITY, ARM_SCOPE, startLocalIdentities, type IdentityOptions, type LocalIdentities } from './local-identities.js';
import { startLocalStorage, type LocalStorage } from './local-storage.js';

/** ARM names of the local namespace; any values do, the emulator has one namespace. */
const LOCAL_ARM = { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'local', namespace: 'local' } as const;

export interface LocalBusOptions {
  /** Holds `servicebus/` (the emulator's SQLite state, unless `inMemory`) and `servicebus-ca.pem`. */
  dataDir: string;
  /** Keep the emulator's messages (and Azurite's tables) in memory (tests): nothing survives a restart. */
  inMemory?: boolean;
  /** 0 picks a free port; each defaults to 0. */
  ports?: { amqp?: number; amqps?: number; arm?: number };
  /** Entra ID on the emulator (tokens of the local issuer) and the credential that provisions the reports queue. */
  entra?: { options: NonNullable<EmulatorOptions['entra']>; armCredential: TokenCredential };
}

export interface LocalBus {
  readonly emulator: RunningEmulator;
  /** The PEM the ARM client must trust for the emulator's endpoint. */
  readonly caFile: string;
  readonly arm: ArmSettings;
  /** The namespace as a client names it to reach the AMQPS listener with an identity: `localhost:<port>`. */
  readonly namespace: string;
  close(): Promise<void>;
}

/** The emulator, with the reports queue the reports trigger listens on from the start. */
export async function startLocalBus(options: LocalBusOptions): Promise<LocalBus> {
  const ports = options.ports ?? {};
  mkdirSync(options.dataDir, { recursive: true });
  const emulator = await startEmulator({
    port: ports.amqp ?? 0,
    amqpsPort: ports.amqps ?? 0,
    armPort: ports.arm ?? 0,
    ...(!options.inMemory && { dataDir: path.join(options.dataDir, 'servicebus') }),
    ...(options.entra && { entra: options.entra.options }),
  });
  try {
    if (emulator.armEndpoint === undefined || emulator.caCertificate === undefined) {
      throw new Error('the emulator started without its ARM endpoint');
    }
    const caFile = path.join(options.dataDir, 'servicebus-ca.pem');
    writeFileSync(caFile, emulator.caCertificate);
    const arm: ArmSettings = { ...LOCAL_ARM, endpoint: emulator.armEndpoint, caCertificate: emulator.caCertificate, credential: 'emulator' };
    await provisionReportsQueue(arm, options.entra?.armCredential);
    return { emulator, caFile, arm, namespace: amqpsNamespace(emulator), close: () => emulator.close() };
  } catch (err) {
    await emulator.close().catch(() => {});
    throw err;
  }
}

function amqpsNamespace(emulator: RunningEmulator): string {
  const host = /Endpoint=sb:\/\/([^/;]+)/i.exec(emulator.amqpsConnectionString ?? '')?.[1];
  if (host === undefined) throw new Error('the emulator started without its AMQPS listener');
  return host;
}

/** App settings that point the Function app at a local bus. */
export function localAppSettings(bus: LocalBus, functionKey: string): Record<string, string> {
  return {
    ServiceBusConnection: bus.emulator.connectionString,
    AZURE_SUBSCRIPTION_ID: bus.arm.subscriptionId,
    SERVICEBUS_RESOURCE_GROUP: bus.arm.resourceGroup,
    SERVICEBUS_NAMESPACE: bus.arm.namespace,
    SERVICEBUS_ARM_ENDPOINT: bus.arm.endpoint!,
    SERVICEBUS_ARM_CA_FILE: bus.caFile,
    SERVICEBUS_ARM_CREDENTIAL: 'emulator',
    FUNCTIONS_HOST_FUNCTION_KEY: functionKey,
  };
}

/**
 * App settings of an app with its own identity (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`,
 * `AZURE_CLIENT_ID`): the namespace instead of a connection string (an empty
 * `ServiceBusConnection` hides one a local.settings.json may hold), ARM through
 * DefaultAzureCredential with Azure's ARM audience, and the emulator's certificate trusted by
 * Node for AMQPS (NODE_EXTRA_CA_CERTS).
 */
export function identityAppSettings(bus: LocalBus, identities: LocalIdentities, functionKey: string): Record<string, string> {
  const identity = identities.environmentFor(APP_IDENTITY);
  return {
    ...identity,
    NODE_EXTRA_CA_CERTS: bus.caFile,
    ServiceBusConnection: '',
    ServiceBusConnection__fullyQualifiedNamespace: bus.namespace,
    ServiceBusConnection__clientId: identity.AZURE_CLIENT_ID,
    AZURE_SUBSCRIPTION_ID: bus.arm.subscriptionId,
    SERVICEBUS_RESOURCE_GROUP: bus.arm.resourceGroup,
    SERVICEBUS_NAMESPACE: bus.arm.namespace,
    SERVICEBUS_ARM_ENDPOINT: bus.arm.endpoint!,
    SERVICEBUS_ARM_CA_FILE: bus.caFile,
    SERVICEBUS_ARM_CREDENTIAL: 'default',
    SERVICEBUS_ARM_CREDENTIAL_SCOPE: ARM_SCOPE,
    FUNCTIONS_HOST_FUNCTION_KEY: functionKey,
  };
}

/**
 * The app's storage account by identity, as the Functions host names an identity-based connection:
 * `AzureWebJobsStorage__tableServiceUri` and `__clientId` (the empty `AzureWebJobsStorage` hides
 * a connection string a local.settings.json may hold). Azurite checks the token's shape (issuer,
 * audience, lifetime), not its signature nor a role (local/identity README).
 */
export function identityStorageSettings(storage: LocalStorage, identities: LocalIdentities): Record<string, string> {
  return {
    AzureWebJobsStorage: '',
    AzureWebJobsStorage__tableServiceUri: storage.tableServiceUri,
    AzureWebJobsStorage__clientId: identities.environmentFor(APP_IDENTITY).AZURE_CLIENT_ID,
  };
}

/**
 * The ports `npm start` and the demo listen on, from the environment (SERVICEBUS_PORT,
 * SERVICEBUS_AMQPS_PORT, SERVICEBUS_ARM_PORT, PORT; 0 picks free ones), else the usual ones.
 */
export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): { ports: Required<NonNullable<LocalBusOptions['ports']>>; httpPort: number } {
  const port = (name: string, fallback: number) => portFromEnv(env, name, fallback);
  return {
    ports: { amqp: port('SERVICEBUS_PORT', 5672), amqps: port('SERVICEBUS_AMQPS_PORT', 5671), arm: port('SERVICEBUS_ARM_PORT', 5443) },
    httpPort: port('PORT', 7071),
  };
}

/**
 * The local token issuer's port for `npm start -- --identities`: IDENTITY_ISSUER_PORT, else
 * 41741. Fixed, as the identities are kept: IDENTITY_ENDPOINT stays the same across restarts.
 */
export function identityPortFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return portFromEnv(env, 'IDENTITY_ISSUER_PORT', 41741);
}

function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new Error(`${name} must be a TCP port, got "${raw}"`);
  return n;
}

export interface LocalSystemOptions extends LocalBusOptions {
  /** The Function app's folder (host.json, package.json `main`). */
  appDir: string;
  functionKey: string;
  /** The host's HTTP port; 0 (the default) picks a free one. */
  httpPort?: number;
  clock?: Clock;
  logger?: Logger;
  /** More app settings, or overrides of the local ones. */
  settings?: Record<string, string>;
  /**
   * Managed identities for every process (scripts/local-identities.ts): the host then runs as a
   * process of its own, on the wall clock (no `clock`). Unless `inMemory`, the issuer's key and
   * the identities are kept in `dataDir/identity` and reused.
   */
  identities?: IdentityOptions;
}

export interface LocalSystem<H extends { readonly url: string } = Host> {
  readonly bus: LocalBus;
  /** Azurite's Table service: the app's AzureWebJobsStorage (in `dataDir/azurite` unless `inMemory`). */
  readonly storage: LocalStorage;
  /** With `identities`: the issuer and each process's identity environment. */
  readonly identities?: LocalIdentities;
  /** The running host (a new object after `restartHost`). */
  readonly host: H;
  /** Restarts the host on the same data folder: durable state survives. */
  restartHost(): Promise<void>;
  /** Closes the host, then the bus and Azurite. Idempotent. */
  close(): Promise<void>;
}

export function startLocalSystem(options: LocalSystemOptions & { identities: IdentityOptions }): Promise<LocalSystem<HostProcess>>;
export function startLocalSystem(options: LocalSystemOptions & { identities?: undefined }): Promise<LocalSystem<Host>>;
export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem<Host | HostProcess>> {
  if (options.identities && options.clock) throw new Error('identities: the host runs in its own process, on the wall clock; give no clock');
  // Kept in the data folder, as the emulator's state is: a restart keeps every process's identity.
  const identities = options.identities && (await startLocalIdentities({ ...(!options.inMemory && { stateDir: path.join(options.dataDir, 'identity') }), ...options.identities }));
  const entra = identities && {
    options: { issuer: identities.issuer.issuer, keys: identities.issuer.jwks.keys, roleAssignments: [...identities.roleAssignments] },
    armCredential: identities.appArmCredential(),
  };
  const oauth = identities && (await storageCertificate(options).catch(async (err: unknown) => {
    await identities.close().catch(() => {});
    throw err;
  }));
  const [bus, storage] = await Promise.allSettled([
    startLocalBus({ ...options, ...(entra && { entra }) }),
    startLocalStorage({ ...(!options.inMemory && { location: path.join(options.dataDir, 'azurite') }), ...(oauth && { oauth }) }),
  ]);
  if (bus.status === 'rejected' || storage.status === 'rejected') {
    if (bus.status === 'fulfilled') await bus.value.close().catch(() => {});
    if (storage.status === 'fulfilled') await storage.value.close().catch(() => {});
    await identities?.close().catch(() => {});
    throw bus.status === 'rejected' ? bus.reason : (storage as PromiseRejectedResult).reason;
  }
  return serve(options, bus.value, storage.value, identities);
}

/**
 * With identities, Azurite serves HTTPS (which its OAuth needs) with the emulator's certificate,
 * the one every process already trusts (NODE_EXTRA_CA_CERTS): loaded first, so that the emulator
 * then finds the same one in its data folder (or, in memory, this process's).
 */
async function storageCertificate(options: LocalSystemOptions): Promise<{ certFile: string; keyFile: string }> {
  const certificate = await loadOrCreateCertificate(options.inMemory ? {} : { dataDir: path.join(options.dataDir, 'servicebus') });
  const dir = path.join(options.dataDir, 'azurite-tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  writeFileSync(certFile, certificate.certPem);
  writeFileSync(keyFile, certificate.keyPem, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  return { certFile, keyFile };
}

async function serve(options: LocalSystemOptions, bus: LocalBus, storage: LocalStorage, identities: LocalIdentities | undefined): Promise<LocalSystem<Host | HostProcess>> {
  const port = options.httpPort ?? 0;
  const dataDir = path.join(options.dataDir, 'functions-host');
  const start: () => Promise<Host | HostProcess> = identities
    ? () => {
        const settings = { ...identityAppSettings(bus, identities, options.functionKey), ...identityStorageSettings(storage, identities), ...options.settings };
        return startHostProcess({ appDir: options.appDir, dataDir, port, env: { ...inheritedEnvironment(), ...settings }, ...(options.logger && { logger: options.logger }) });
      }
    : () =>
        startHost({
          appDir: options.appDir,
          port,
          dataDir,
          settings: { ...localAppSettings(bus, options.functionKey), AzureWebJobsStorage: storage.connectionString, ...options.settings },
          ...(options.clock && { clock: options.clock }),
          ...(options.logger && { logger: options.logger }),
        });
  let host: Host | HostProcess;
  try {
    host = await start();
  } catch (err) {
    await bus.close().catch(() => {});
    await storage.close().catch(() => {});
    await identities?.close().catch(() => {});
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    bus,
    storage,
    ...(identities && { identities }),
    get host() {
      return host;
    },
    async restartHost() {
      await host.close();
      host = await start();
    },
    close() {
      closing ??= (async () => {
        await host.close().catch((e: unknown) => process.stderr.write(`closing the Functions host: ${String(e)}\n`));
        await bus.close().catch((e: unknown) => process.stderr.write(`closing the Service Bus emulator: ${String(e)}\n`));
        await storage.close().catch((e: unknown) => process.stderr.write(`closing Azurite: ${String(e)}\n`));
        await identities?.close().catch((e: unknown) => process.stderr.write(`closing the token issuer: ${String(e)}\n`));
      })();
      return closing;
    },
  };
}

/**
 * What the host process keeps of this one's environment: where programs and home are, the
 * locale and the temp directory; no credentials (an Azure login or a connection string of the
 * caller's shell must not stand in for the app's identity).
 */
function inheritedEnvironment(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR', 'TZ', 'NODE_OPTIONS', 'SYSTEMROOT'];
  return Object.fromEntries(keep.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]!]])));
}
