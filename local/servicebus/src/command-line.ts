// CLI arguments and environment → one immutable, validated configuration. Nothing below the CLI
// reads process.env or process.argv. Every error names the flag (or variable) and what it expects.
import { invalidConfiguration } from './errors.js';
import { exposureRefusal, insecureExposures } from './exposure.js';
import type { SasKey } from './auth/sas.js';
import type { LogLevel } from './log.js';

export interface EmulatorConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string | undefined;
  readonly autoCreate: boolean;
  readonly keys: readonly SasKey[];
  readonly logLevel: LogLevel;
  readonly configFile: string | undefined;
  /** Entra ID settings (issuer, keys, role assignments) in a JSON file. */
  readonly entraFile: string | undefined;
  readonly armPort: number | false | undefined;
  readonly amqpsPort: number | false | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  /** Listen off loopback although the development key or the token-less ARM endpoint is on. */
  readonly allowInsecureRemote: boolean;
}

export type ParsedCommandLine = { help: true } | { help: false; config: EmulatorConfig };

export const USAGE = `Usage: servicebus-emulator [options]

An Azure Service Bus emulator: AMQP 1.0 for the Service Bus SDKs, no cloud, no Docker.

Options (environment variable in brackets):
  --port N               AMQP port, plain TCP; 0 = any free port    [SERVICEBUS_EMULATOR_PORT]   default 5672
  --host ADDR            interface to listen on                     [SERVICEBUS_EMULATOR_HOST]   default 127.0.0.1
                         (off loopback: needs --sas-key, and --arm-port off or --entra; or --allow-insecure-remote)
  --data DIR             keep entities and messages in DIR (SQLite) [SERVICEBUS_EMULATOR_DATA]   default: in memory
  --auto-create          create queues/subscriptions on first use
  --sas-key NAME=KEY     accept this SAS key (repeatable)                                        default: the development key
  --config FILE          entities to create at start-up (our JSON or the official Config.json)
  --entra FILE           accept Entra ID tokens: JSON { issuer, keys, roleAssignments } (see the README)
                         (or "entra" in the --config file); SAS keys keep working
  --arm-port N|off       HTTPS port of the ARM endpoint and /health                              default 5443
  --amqps-port N|off     AMQP over TLS port                                                      default 5671
  --cert FILE, --key FILE  PEM certificate and key for the TLS listeners                         default: generated
  --allow-insecure-remote  off loopback, serve the development key and the ARM endpoint (any token) anyway
  --log-level LEVEL      debug, info, warn or error                 [SERVICEBUS_EMULATOR_LOG_LEVEL] default info
  -h, --help             show this help
`;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface ConfigDefaults {
  keys: readonly SasKey[];
}

/** Parses argv (without `node` and the script) and env. Throws `InvalidConfiguration` naming the bad flag. */
export function parseCommandLine(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, defaults: ConfigDefaults): ParsedCommandLine {
  const flags = new Map<string, string | true>();
  const keys: SasKey[] = [];
  const takesValue = new Set(['--port', '--host', '--data', '--sas-key', '--config', '--entra', '--arm-port', '--amqps-port', '--cert', '--key', '--log-level']);
  const switches = new Set(['--auto-create', '--allow-insecure-remote', '--help', '-h']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (switches.has(name)) {
      if (eq > 0) throw invalidConfiguration(`${name} takes no value (got '${arg}').`);
      flags.set(name, true);
      continue;
    }
    if (!takesValue.has(name)) throw invalidConfiguration(`Unknown option '${arg}'. Run servicebus-emulator --help for the list.`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw invalidConfiguration(`${name} needs a value.`);
    if (name === '--sas-key') keys.push(parseKey(value));
    else flags.set(name, value);
  }
  if (flags.has('--help') || flags.has('-h')) return { help: true };

  const str = (flag: string, envName?: string): string | undefined => {
    const v = flags.get(flag);
    if (typeof v === 'string') return v;
    const e = envName ? env[envName] : undefined;
    return e === undefined || e === '' ? undefined : e;
  };
  const source = (flag: string, envName?: string) => (flags.has(flag) || !envName ? flag : envName);

  const logLevel = str('--log-level', 'SERVICEBUS_EMULATOR_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw invalidConfiguration(`${source('--log-level', 'SERVICEBUS_EMULATOR_LOG_LEVEL')}: expected one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'.`);
  }
  const host = str('--host', 'SERVICEBUS_EMULATOR_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw invalidConfiguration(`${source('--host', 'SERVICEBUS_EMULATOR_HOST')}: '${host}' is not a host name or address.`);
  const cert = str('--cert');
  const key = str('--key');
  if ((cert === undefined) !== (key === undefined)) throw invalidConfiguration('--cert and --key go together: give both, or neither to use a generated certificate.');

  const config: EmulatorConfig = {
    port: port(str('--port', 'SERVICEBUS_EMULATOR_PORT'), source('--port', 'SERVICEBUS_EMULATOR_PORT')) ?? 5672,
    host,
    dataDir: str('--data', 'SERVICEBUS_EMULATOR_DATA'),
    autoCreate: flags.has('--auto-create'),
    keys: Object.freeze(keys.length ? keys : [...defaults.keys]),
    logLevel: logLevel as LogLevel,
    configFile: str('--config'),
    entraFile: str('--entra'),
    armPort: portOrOff(str('--arm-port'), '--arm-port'),
    amqpsPort: portOrOff(str('--amqps-port'), '--amqps-port'),
    certFile: cert,
    keyFile: key,
    allowInsecureRemote: flags.has('--allow-insecure-remote'),
  };
  // With --entra, the ARM endpoint validates tokens and roles.
  const exposures = insecureExposures(host, config.keys, config.armPort !== false && config.entraFile === undefined);
  if (exposures.length > 0 && !config.allowInsecureRemote) {
    throw invalidConfiguration(exposureRefusal(source('--host', 'SERVICEBUS_EMULATOR_HOST'), host, exposures));
  }
  return { help: false, config: Object.freeze(config) };
}

function port(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw invalidConfiguration(`${name}: expected a port number from 0 to 65535, got '${value}'.`);
  return n;
}

function portOrOff(value: string | undefined, name: string): number | false | undefined {
  if (value === 'off') return false;
  return port(value, `${name} (or 'off')`);
}

function parseKey(value: string): SasKey {
  const eq = value.indexOf('=');
  const name = value.slice(0, eq);
  const key = value.slice(eq + 1);
  if (eq <= 0 || !key || /[;\s]/.test(value)) {
    throw invalidConfiguration(`--sas-key: expected NAME=KEY without spaces or ';', got '${value}'.`);
  }
  return { name, key };
}
