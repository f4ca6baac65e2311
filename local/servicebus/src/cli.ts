// servicebus-emulator: parse arguments → configuration → start → serve until SIGTERM/SIGINT.
// Output is one JSON object per line on stdout; the `ready` line carries the connection strings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_KEY, DEVELOPMENT_KEY_NAME, startEmulator, type RunningEmulator } from './emulator.js';
import { USAGE, parseCommandLine, type EmulatorConfig } from './command-line.js';
import { toEmulatorError } from './errors.js';
import { jsonLogger } from './log.js';

async function main(): Promise<void> {
  let config: EmulatorConfig;
  try {
    const parsed = parseCommandLine(process.argv.slice(2), process.env, { keys: [{ name: DEVELOPMENT_KEY_NAME, key: DEVELOPMENT_KEY }] });
    if (parsed.help) {
      process.stdout.write(USAGE);
      return;
    }
    config = parsed.config;
  } catch (e) {
    process.stderr.write(`servicebus-emulator: ${toEmulatorError(e).message}\n`);
    process.exitCode = 2;
    return;
  }

  const logger = jsonLogger(config.logLevel, (line) => process.stdout.write(line));
  // Signal handlers go in before anything is announced: a supervisor may stop us the moment it
  // reads the `ready` line.
  let emulator: RunningEmulator | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal: exiting without a clean shutdown', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('stopping', { signal });
    if (!emulator) return; // still starting: stopped as soon as it is up
    emulator.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error('shutdown failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    emulator = await startEmulator({
      port: config.port,
      host: config.host,
      autoCreate: config.autoCreate,
      keys: [...config.keys],
      allowInsecureRemote: config.allowInsecureRemote,
      logger,
      ...(config.dataDir !== undefined ? { dataDir: config.dataDir } : {}),
      ...(config.configFile !== undefined ? { configFile: config.configFile } : {}),
      ...(config.entraFile !== undefined ? { entraFile: config.entraFile } : {}),
      ...(config.armPort !== undefined ? { armPort: config.armPort } : {}),
      ...(config.amqpsPort !== undefined ? { amqpsPort: config.amqpsPort } : {}),
      ...(config.certFile !== undefined ? { certFile: config.certFile } : {}),
      ...(config.keyFile !== undefined ? { keyFile: config.keyFile } : {}),
    });
  } catch (e) {
    logger.error('the emulator could not start', { error: startupMessage(e, config) });
    process.exit(1);
  }
  if (stopping) {
    await emulator.close();
    process.exit(0);
  }

  logger.info('ready', {
    connectionString: emulator.connectionString,
    ...(emulator.amqpsConnectionString ? { amqpsConnectionString: emulator.amqpsConnectionString } : {}),
    ...(emulator.armEndpoint ? { armEndpoint: emulator.armEndpoint } : {}),
    ...(emulator.healthUrl ? { healthUrl: emulator.healthUrl } : {}),
    ...(emulator.caCertificate ? { caCertificateFile: emulator.caCertificateFile ?? writeCaFile(emulator.caCertificate) } : {}),
    sasKeyName: config.keys[0]!.name,
    dataDir: config.dataDir ?? null,
  });
}

/**
 * A generated, unpersisted certificate is written out so that clients can be told to trust it:
 * in a folder of our own (mkdtemp: a fresh name, mode 0700), never at a predictable /tmp path
 * that another user could plant first.
 */
function writeCaFile(pem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'servicebus-emulator-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'certificate.pem');
  writeFileSync(file, pem, { flag: 'wx', mode: 0o644 });
  return file;
}

function startupMessage(e: unknown, config: EmulatorConfig): string {
  const code = (e as { code?: string }).code;
  if (code === 'EADDRINUSE') {
    const port = (e as { port?: number }).port ?? config.port;
    return `Port ${port} is already in use (another emulator?). Stop it, or choose another port with --port / --amqps-port / --arm-port.`;
  }
  if (code === 'EACCES') return `Not allowed to listen on ${config.host}:${(e as { port?: number }).port ?? config.port}; choose a port above 1023.`;
  return toEmulatorError(e).message;
}

await main();
