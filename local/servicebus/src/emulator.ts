// Wiring: store → broker → AMQP server, in one place. `startEmulator` is the library API used by
// tests and by the CLI.
import { ServiceBusAdapter, serverLinkOptions } from './amqp/adapter.js';
import { parsePayload } from './amqp/payload.js';
import { AmqpServer } from './amqp/server.js';
import { Broker } from './broker/broker.js';
import type { EntityCatalogue } from './broker/catalogue.js';
import { type Logger, silentLogger } from './log.js';
import { MemoryStore } from './store/memory.js';
import { SqliteStore } from './store/sqlite.js';
import { applyConfigFile, startTlsSurfaces, type ProvisioningOptions, type TlsSurfaces } from './arm/provisioning.js';
import type { MessageStore } from './store/store.js';
import type { SasKey } from './auth/sas.js';
import { loadEntraFile, parseEntra, type Entra, type EntraOptions } from './auth/entra.js';
import { loadEntitiesFile, type EntitiesConfig } from './config/entities-file.js';
import { invalidConfiguration } from './errors.js';
import { DEVELOPMENT_KEY, DEVELOPMENT_KEY_NAME, exposureRefusal, insecureExposures } from './exposure.js';

export { DEVELOPMENT_KEY, DEVELOPMENT_KEY_NAME };

export type { SasKey, EntraOptions };

export interface EmulatorOptions extends ProvisioningOptions {
  /** AMQP (plain TCP) port; 0 picks a free port. Default 5672. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Directory for the SQLite database; in memory when absent. */
  dataDir?: string;
  /** Create queues (and topics/subscriptions named in a subscription address) on first use. */
  autoCreate?: boolean;
  /** SAS keys accepted; default: the development key. */
  keys?: SasKey[];
  /**
   * Entra ID: accept access tokens (`jwt` on $cbs, bearer tokens on the ARM endpoint) from this
   * issuer, with these role assignments. SAS keys keep working beside it. Also `"entra"` in the
   * config file, or `entraFile`; give it once.
   */
  entra?: EntraOptions;
  /** A JSON file with the `entra` settings (--entra FILE). */
  entraFile?: string;
  /**
   * Off loopback, serve the development key and the ARM endpoint (which accepts any token)
   * anyway, with a warning; without it, `startEmulator` refuses such a `host`.
   */
  allowInsecureRemote?: boolean;
  logger?: Logger;
}

export type EmulatorState = 'starting' | 'running' | 'closing' | 'closed';

export interface RunningEmulator {
  /** Connection string for `ServiceBusClient` (plain TCP, `UseDevelopmentEmulator=true`). */
  readonly connectionString: string;
  /** The bound AMQP port. */
  readonly port: number;
  readonly catalogue: EntityCatalogue;
  readonly state: EmulatorState;
  /** ARM endpoint (`https://localhost:<port>`), health URL, AMQPS connection string, CA PEM. */
  readonly armEndpoint?: string;
  readonly healthUrl?: string;
  readonly amqpsConnectionString?: string;
  readonly caCertificate?: string;
  readonly caCertificateFile?: string;
  /** Stops listening, drops connections, closes the store. Idempotent. */
  close(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const keys = options.keys?.length ? options.keys : [{ name: DEVELOPMENT_KEY_NAME, key: DEVELOPMENT_KEY }];
  const config = options.configFile ? await loadEntitiesFile(options.configFile) : undefined;
  const entra = await entraSettings(options, config);
  const exposures = insecureExposures(host, keys, options.armPort !== false && !entra);
  if (exposures.length > 0 && !options.allowInsecureRemote) throw invalidConfiguration(exposureRefusal('host', host, exposures));
  for (const exposure of exposures) logger.warn('insecure remote access allowed', { host, exposure });
  if (entra) logger.info('entra id tokens accepted', { issuer: entra.trust.issuer, keys: [...entra.trust.keys.keys()], roleAssignments: entra.roleAssignments.length });
  let state: EmulatorState = 'starting';

  const store: MessageStore = options.dataDir ? new SqliteStore(options.dataDir, logger) : new MemoryStore();
  const broker = new Broker({ store, parse: parsePayload, autoCreate: options.autoCreate ?? false, logger });
  broker.restore();
  const amqp = new AmqpServer(logger, { maxFrameSize: 65_536, rhea: serverLinkOptions });
  new ServiceBusAdapter(amqp.container, { broker, keys, entra, logger });

  const key = keys[0]!;
  let port: number;
  let tlsSurfaces: TlsSurfaces;
  try {
    if (config && options.configFile) applyConfigFile(broker.namespace, config, options.configFile, logger);
    port = await amqp.listen({ port: options.port ?? 5672, host });
    tlsSurfaces = await startTlsSurfaces(options, {
      catalogue: broker.namespace,
      listenAmqp: (o) => amqp.listen(o),
      host,
      clientHost: clientHost(host),
      ephemeralPorts: options.port === 0,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      key,
      entra,
      serviceBusEndpoint: `sb://${clientHost(host)}:${port}/`,
      health: () => ({
        state,
        amqpPort: port,
        persistent: store.persistent,
        queues: broker.namespace.listQueues().length,
        topics: broker.namespace.listTopics().length,
      }),
      logger,
    });
  } catch (e) {
    await amqp.close().catch(() => {});
    broker.close();
    store.close();
    throw e;
  }

  const connectionString = `Endpoint=sb://${clientHost(host)}:${port};SharedAccessKeyName=${key.name};SharedAccessKey=${key.key};UseDevelopmentEmulator=true`;
  state = 'running';
  logger.info('emulator started', { port, host, persistent: store.persistent });

  let closing: Promise<void> | undefined;
  return {
    connectionString,
    port,
    catalogue: broker.namespace,
    armEndpoint: tlsSurfaces.armEndpoint,
    healthUrl: tlsSurfaces.healthUrl,
    amqpsConnectionString: tlsSurfaces.amqpsConnectionString,
    caCertificate: tlsSurfaces.caCertificate,
    caCertificateFile: tlsSurfaces.caCertificateFile,
    get state() {
      return state;
    },
    close() {
      closing ??= (async () => {
        state = 'closing';
        await tlsSurfaces.close().catch((e: unknown) => logger.warn('closing the ARM endpoint failed', { error: String(e) }));
        try {
          await amqp.close();
        } catch (e) {
          logger.warn('closing the AMQP listeners failed', { error: String(e) });
        }
        broker.close();
        try {
          store.close();
        } catch (e) {
          logger.warn('closing the store failed', { error: String(e) });
        }
        state = 'closed';
        logger.info('emulator stopped');
      })();
      return closing;
    },
  };
}

/** The Entra ID settings from wherever they were given (once): the option, --entra FILE or the config file. */
async function entraSettings(options: EmulatorOptions, config: EntitiesConfig | undefined): Promise<Entra | undefined> {
  const given = [
    options.entra !== undefined && 'the entra option',
    options.entraFile !== undefined && `--entra ${options.entraFile}`,
    config?.entra !== undefined && `"entra" in ${options.configFile}`,
  ].filter((g): g is string => typeof g === 'string');
  if (given.length > 1) throw invalidConfiguration(`Entra ID settings are given twice (${given.join(' and ')}): give them in one place.`);
  if (options.entra !== undefined) return parseEntra(options.entra, 'entra');
  if (options.entraFile !== undefined) return loadEntraFile(options.entraFile);
  if (config?.entra !== undefined) return parseEntra(config.entra, `${options.configFile}: entra`);
  return undefined;
}

/** The host a client on this machine uses to reach a listener bound to `host`. */
function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === '::1') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
