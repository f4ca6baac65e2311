// The app as the Functions host and Core Tools read it: host.json, the entry files of
// package.json `main`, local.settings.json (Values, Host.LocalHttpPort), the route prefix, the
// Durable hub name, the Service Bus extension's settings and the host keys; read once into an
// immutable `AppConfig`, with `%Name%` setting references resolved as the host does.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { HostError } from './errors.js';
import { expandGlob } from './glob.js';

/** Names of the app settings this host reads for its keys (documented in the README). */
export const KEY_SETTINGS = {
  function: 'FUNCTIONS_HOST_FUNCTION_KEY',
  master: 'FUNCTIONS_HOST_MASTER_KEY',
  durableTask: 'FUNCTIONS_HOST_DURABLETASK_KEY',
} as const;

export interface HostKeys {
  /** Accepted by `authLevel: 'function'` functions (`x-functions-key` header or `code` query). */
  readonly function: string;
  /** Accepted everywhere; required by `/admin/*` and `authLevel: 'admin'`. */
  readonly master: string;
  /** The durabletask extension's system key, put in the webhook URLs handed to durable clients. */
  readonly durableTask: string;
}

export interface AppConfig {
  readonly appDir: string;
  readonly entryFiles: readonly string[];
  readonly hostJson: Readonly<Record<string, unknown>>;
  /** process.env, then local.settings.json Values (not overriding the environment, as Core Tools does), then explicit settings. */
  readonly settings: Readonly<Record<string, string>>;
  readonly routePrefix: string;
  readonly hubName: string;
  readonly keys: HostKeys;
  readonly localHttpPort?: number;
  readonly serviceBus: { readonly maxConcurrentCalls: number; readonly autoCompleteMessages: boolean; readonly maxMessageBatchSize: number };
}

function readJson(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HostError('AppNotFound', `Cannot read ${what} at ${file}: ${(err as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text.replace(/^\uFEFF/, ''));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new HostError('InvalidAppFile', `${what} at ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Reads host.json, package.json `main` and local.settings.json the way the Functions host and Core Tools do. */
export function loadAppConfig(
  appDir: string,
  overrides: Readonly<Record<string, string>> = {},
  env: NodeJS.ProcessEnv = process.env,
): AppConfig {
  const dir = path.resolve(appDir);
  if (!existsSync(path.join(dir, 'host.json'))) {
    throw new HostError('AppNotFound', `No host.json in ${dir}: --app must point at a Functions app folder`);
  }
  const hostJson = readJson(path.join(dir, 'host.json'), 'host.json');
  const pkg = readJson(path.join(dir, 'package.json'), 'package.json');
  const main = pkg.main;
  if (typeof main !== 'string' || main.trim() === '') {
    throw new HostError('InvalidAppFile', `package.json in ${dir} has no "main": set it to the entry file (or glob) of the functions`);
  }
  const entryFiles = main
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .flatMap((p) => expandGlob(dir, p));
  if (entryFiles.length === 0) {
    throw new HostError('InvalidAppFile', `package.json "main" (${main}) matches no file in ${dir}; build the app first?`);
  }

  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) settings[k] = v;
  let localHttpPort: number | undefined;
  const localSettingsFile = path.join(dir, 'local.settings.json');
  if (existsSync(localSettingsFile)) {
    const local = readJson(localSettingsFile, 'local.settings.json');
    for (const [k, v] of Object.entries(obj(local.Values))) {
      if (settings[k] === undefined && v !== null && v !== undefined) settings[k] = String(v);
    }
    const port = obj(local.Host).LocalHttpPort;
    if (typeof port === 'number') localHttpPort = port;
  }
  Object.assign(settings, overrides);

  const extensions = obj(hostJson.extensions);
  const http = obj(extensions.http);
  const routePrefix = typeof http.routePrefix === 'string' ? http.routePrefix.replace(/^\/+|\/+$/g, '') : 'api';
  const durable = obj(extensions.durableTask);
  const hubName = resolveSettingExpression(
    typeof durable.hubName === 'string' ? durable.hubName : 'TestHubName',
    settings,
  );
  const sb = obj(extensions.serviceBus);
  const maxConcurrentCalls = typeof sb.maxConcurrentCalls === 'number' ? sb.maxConcurrentCalls : 16;
  const autoCompleteMessages = sb.autoCompleteMessages !== false;
  const maxMessageBatchSize = typeof sb.maxMessageBatchSize === 'number' ? sb.maxMessageBatchSize : 1000;

  const keys: HostKeys = {
    function: settings[KEY_SETTINGS.function] || randomKey(),
    master: settings[KEY_SETTINGS.master] || randomKey(),
    durableTask: settings[KEY_SETTINGS.durableTask] || randomKey(),
  };
  return {
    appDir: dir,
    entryFiles,
    hostJson,
    settings,
    routePrefix,
    hubName,
    keys,
    localHttpPort,
    serviceBus: { maxConcurrentCalls, autoCompleteMessages, maxMessageBatchSize },
  };
}

function randomKey(): string {
  return randomBytes(24).toString('base64url');
}

/** Resolves `%Name%` app-setting references in binding properties, as the host does. */
export function resolveSettingExpression(value: string, settings: Readonly<Record<string, string>>): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const v = settings[name];
    if (v === undefined) throw new HostError('MissingSetting', `App setting "${name}" (referenced as %${name}%) is not defined`);
    return v;
  });
}
