// The provisioning and TLS side of `startEmulator`: entities from the config file, the
// certificate, the AMQPS listener and the ARM endpoint (with /health). Kept out of emulator.ts
// so that the wiring there stays a few lines.
import type { EntityCatalogue } from '../broker/catalogue.js';
import type { Entra } from '../auth/entra.js';
import { applyEntitiesConfig, type EntitiesConfig } from '../config/entities-file.js';
import type { Logger } from '../log.js';
import { loadOrCreateCertificate } from '../tls/certificate.js';
import { DEFAULT_ARM_PORT, startArmServer, type ArmServer } from './server.js';

export const DEFAULT_AMQPS_PORT = 5671;

export interface ProvisioningOptions {
  /** Entities to create (or update) at start-up: our JSON shape or the official Config.json. */
  configFile?: string;
  /** HTTPS port of the ARM endpoint and /health; 0 picks a free port, false turns it off. Default 5443 (0 when `port` is 0). */
  armPort?: number | false;
  /** AMQPS (TLS) port; 0 picks a free port, false turns it off. Default 5671 (0 when `port` is 0). */
  amqpsPort?: number | false;
  /** PEM certificate (--cert) and key (--key) for the TLS listeners; default: a generated one. */
  certFile?: string;
  keyFile?: string;
}

export interface TlsSurfaces {
  /** `https://localhost:<port>`: the `endpoint` for ServiceBusManagementClient. */
  armEndpoint?: string;
  healthUrl?: string;
  /** Connection string for AMQP over TLS (no `UseDevelopmentEmulator`): SDKs of other languages. */
  amqpsConnectionString?: string;
  /** PEM of the certificate the TLS listeners present; trust it as a CA. */
  caCertificate?: string;
  /** Where that PEM is on disk (data directory or --cert), when it is. */
  caCertificateFile?: string;
  close(): Promise<void>;
}

export function applyConfigFile(catalogue: EntityCatalogue, config: EntitiesConfig, file: string, logger: Logger): void {
  const counts = applyEntitiesConfig(catalogue, config, file);
  logger.info('entities provisioned from config file', { file, shape: config.shape, ...counts });
}

export interface TlsSurfacesContext {
  catalogue: EntityCatalogue;
  /** Starts one more AMQP listener (the core's AmqpServer.listen). */
  listenAmqp(options: { port: number; host: string; tls: { key: string; cert: string } }): Promise<number>;
  host: string;
  /** Host that clients on this machine use (`localhost` for loopback and wildcard binds). */
  clientHost: string;
  /** Whether the plain AMQP port was 0: the TLS ports then default to 0 as well. */
  ephemeralPorts: boolean;
  dataDir?: string;
  key: { name: string; key: string };
  /** `sb://host:port/` of the plain listener, reported as the namespace's endpoint. */
  serviceBusEndpoint: string;
  /** With Entra ID settings, the ARM endpoint validates bearer tokens and roles. */
  entra?: Entra | undefined;
  health: () => Record<string, unknown>;
  logger: Logger;
}

export async function startTlsSurfaces(options: ProvisioningOptions, ctx: TlsSurfacesContext): Promise<TlsSurfaces> {
  const armPort = options.armPort ?? (ctx.ephemeralPorts ? 0 : DEFAULT_ARM_PORT);
  const amqpsPort = options.amqpsPort ?? (ctx.ephemeralPorts ? 0 : DEFAULT_AMQPS_PORT);
  if (armPort === false && amqpsPort === false) return { close: async () => {} };

  const certificate = await loadOrCreateCertificate({
    ...(options.certFile ? { certFile: options.certFile } : {}),
    ...(options.keyFile ? { keyFile: options.keyFile } : {}),
    ...(ctx.dataDir ? { dataDir: ctx.dataDir } : {}),
  });
  ctx.logger.info('tls certificate', {
    source: certificate.source,
    ...(certificate.certFile ? { file: certificate.certFile } : {}),
    fingerprint: certificate.fingerprint,
    validTo: certificate.validTo.toISOString(),
  });
  const surfaces: TlsSurfaces = {
    caCertificate: certificate.caPem,
    ...(certificate.certFile ? { caCertificateFile: certificate.certFile } : {}),
    close: async () => {},
  };

  let amqpsBound: number | undefined;
  if (amqpsPort !== false) {
    amqpsBound = await ctx.listenAmqp({
      port: amqpsPort,
      host: ctx.host,
      tls: { key: certificate.keyPem, cert: certificate.certPem },
    });
    surfaces.amqpsConnectionString = `Endpoint=sb://${ctx.clientHost}:${amqpsBound};SharedAccessKeyName=${ctx.key.name};SharedAccessKey=${ctx.key.key}`;
  }

  if (armPort !== false) {
    const arm: ArmServer = await startArmServer({
      catalogue: ctx.catalogue,
      certificate,
      port: armPort,
      host: ctx.host,
      urlHost: ctx.clientHost,
      ...(ctx.entra ? { entra: ctx.entra } : {}),
      namespace: { serviceBusEndpoint: ctx.serviceBusEndpoint, location: 'local', createdAt: new Date() },
      health: () => ({ ...ctx.health(), ...(amqpsBound !== undefined ? { amqpsPort: amqpsBound } : {}), armPort: arm.port }),
      log: (level, message, fields) => (level === 'warn' ? ctx.logger.warn(message, fields) : ctx.logger.debug(message, fields)),
    });
    surfaces.armEndpoint = arm.url;
    surfaces.healthUrl = arm.healthUrl;
    surfaces.close = () => arm.close();
  }
  return surfaces;
}
