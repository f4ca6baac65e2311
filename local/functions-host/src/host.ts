// The host: one class wiring the app's configuration, the language worker, the HTTP server
// (functions, /admin, the durabletask webhooks), the timer and Service Bus triggers and the
// Durable engine, with a state (starting, running, closing, closed), `startHost` and an
// idempotent `close()` that drains HTTP invocations and stops each part in its own step.
// A little over 400 lines on purpose: the wiring of every part stays in one place (as in
// Azurite's server classes); each part's behaviour lives in its own file.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RealClock, type Clock } from './clock.js';
import { loadAppConfig, resolveSettingExpression, type AppConfig, type HostKeys } from './config.js';
import { handleDurableApi, durableClientData, WEBHOOK_PATH } from './durable/api.js';
import { DurableEngine } from './durable/engine.js';
import { DurableStore } from './durable/store.js';
import { HostError, sendJson, sendProblem, toError } from './errors.js';
import { keyMatches } from './key-match.js';
import { LanguageWorker } from './language-worker.js';
import { consoleLogger, type Logger } from './logger.js';
import { authorize, HttpRouter, presentedKey, readBody, toHttpFunction, toRpcHttp, writeHttpResponse } from './triggers/http.js';
import { ServiceBusTriggers, toServiceBusFunction, type ServiceBusFunction } from './triggers/service-bus.js';
import { TimerTriggers, type TimerFunction } from './triggers/timer.js';
import type { FunctionMetadata, RpcInvocationResponse, RpcParameterBinding, RpcTypedData } from './worker/protocol.js';
import { within } from './within.js';

export interface HostOptions {
  /** Folder of the Functions app: host.json, package.json (`main`), local.settings.json. */
  appDir: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on; default 127.0.0.1. */
  hostname?: string;
  /** Time source for timers and durable timers; default the system clock. */
  clock?: Clock;
  /** App settings that win over the environment and local.settings.json. */
  settings?: Record<string, string>;
  /** Where durable state and timer schedule status live; default `<appDir>/.data/functions-host`. */
  dataDir?: string;
  logger?: Logger;
}

export type HostState = 'starting' | 'running' | 'closing' | 'closed';

export interface FunctionInfo {
  name: string;
  trigger: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
}

export interface Host {
  readonly url: string;
  readonly clock: Clock;
  readonly keys: HostKeys;
  readonly functions: readonly FunctionInfo[];
  readonly state: HostState;
  readonly durable: DurableEngine;
  /** Stops triggers, finishes in-flight orchestration episodes, runs appTerminate hooks, releases the port. Idempotent. */
  close(): Promise<void>;
}

function triggerOf(meta: FunctionMetadata): { name: string; type: string } | undefined {
  for (const [name, b] of Object.entries(meta.bindings)) {
    const type = String(b.type ?? '');
    if (b.direction === 'in' && type.toLowerCase().endsWith('trigger')) return { name, type };
  }
  return undefined;
}

const DURABLE_CLIENT_TYPES = new Set(['durableclient', 'orchestrationclient']);

/** How long close() waits for one step (stop the triggers, the engine, ...) before going on. */
const CLOSE_STEP_MS = 15_000;

class FunctionsHost implements Host {
  readonly clock: Clock;
  state: HostState = 'starting';
  url = '';
  functions: FunctionInfo[] = [];
  #opts: HostOptions;
  #config: AppConfig;
  #logger: Logger;
  #server: Server;
  #worker: LanguageWorker | undefined;
  #store: DurableStore;
  #engine!: DurableEngine;
  #timers: TimerTriggers;
  #serviceBus: ServiceBusTriggers | undefined;
  #router = new HttpRouter([]);
  #metadata = new Map<string, FunctionMetadata>();
  #timerFns = new Map<string, TimerFunction>();
  #sbFns = new Map<string, ServiceBusFunction>();
  #closing: Promise<void> | undefined;
  #origin = '';
  /** HTTP function invocations in flight, and who waits for them to end (close). */
  #httpInFlight = 0;
  #httpIdle: Array<() => void> = [];
  /** Set when close() reaches the durable engine: until then, its webhook still serves. */
  #engineStopping = false;

  constructor(opts: HostOptions, config: AppConfig) {
    this.#opts = opts;
    this.#config = config;
    this.clock = opts.clock ?? new RealClock();
    this.#logger = opts.logger ?? consoleLogger();
    this.#store = new DurableStore(opts.dataDir ?? path.join(config.appDir, '.data', 'functions-host'), config.hubName);
    this.#timers = new TimerTriggers({ clock: this.clock, invoke: (n, i) => this.invoke(n, i), logger: this.#logger, db: this.#store.db });
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 5000;
  }

  get keys(): HostKeys {
    return this.#config.keys;
  }

  get durable(): DurableEngine {
    return this.#engine;
  }

  async start(): Promise<void> {
    const port = this.#opts.port ?? 0;
    const hostname = this.#opts.hostname ?? '127.0.0.1';
    this.#server.listen(port, hostname);
    await Promise.race([
      once(this.#server, 'listening'),
      once(this.#server, 'error').then(([err]) => {
        throw new HostError('ListenFailed', `Cannot listen on ${hostname}:${port}: ${(err as Error).message}`);
      }),
    ]);
    const address = this.#server.address() as AddressInfo;
    const shown = hostname === '0.0.0.0' || hostname === '::' ? '127.0.0.1' : hostname;
    this.#origin = `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`;
    this.url = this.#origin;

    const functions = await this.#startWorker();
    this.#index(functions);
    this.#engine = new DurableEngine({
      store: this.#store,
      clock: this.clock,
      logger: this.#logger,
      maxConcurrentActivities: this.#maxActivities(),
      functions: {
        orchestrators: this.#byTrigger('orchestrationtrigger'),
        activities: this.#byTrigger('activitytrigger'),
        invoke: (name, inputData) => this.invoke(name, inputData),
      },
    });
    this.#timers.start([...this.#timerFns.values()]);
    if (this.#sbFns.size > 0) {
      this.#serviceBus = new ServiceBusTriggers({
        settings: this.#config.settings,
        logger: this.#logger,
        maxConcurrentCalls: this.#config.serviceBus.maxConcurrentCalls,
        maxMessageBatchSize: this.#config.serviceBus.maxMessageBatchSize,
        invoke: (name, inputData, triggerMetadata) => this.invoke(name, inputData, triggerMetadata),
      });
      await this.#serviceBus.start([...this.#sbFns.values()]);
    }
    this.#engine.kick();
    this.state = 'running';
    this.#logger.info(`Functions host listening on ${this.url} (${this.functions.length} functions)`);
  }

  #maxActivities(): number {
    const durable = (this.#config.hostJson.extensions as Record<string, Record<string, unknown>> | undefined)?.durableTask;
    const n = durable?.maxConcurrentActivityFunctions;
    return typeof n === 'number' && n > 0 ? n : 10 * os.availableParallelism();
  }

  async #startWorker(): Promise<FunctionMetadata[]> {
    const env: Record<string, string> = {
      ...this.#config.settings,
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsScriptRoot: this.#config.appDir,
    };
    // durable-functions rewrites webhook origins to localhost:7071 unless it knows the host name.
    env.WEBSITE_HOSTNAME = this.#origin.replace(/^http:\/\//, '');
    const worker = new LanguageWorker({ appDir: this.#config.appDir, files: this.#config.entryFiles, env, logger: this.#logger });
    worker.onCrash((err) => {
      if (this.state !== 'running') return;
      this.#logger.error(`${err.message}; restarting it`);
      void worker
        .start()
        .then(() => this.#engine.kick())
        .catch((e: unknown) => this.#logger.error(`Language worker restart failed: ${toError(e).message}`));
    });
    this.#worker = worker;
    return worker.start();
  }

  #byTrigger(type: string): Map<string, { name: string; triggerName: string }> {
    const map = new Map<string, { name: string; triggerName: string }>();
    for (const meta of this.#metadata.values()) {
      const t = triggerOf(meta);
      if (t && t.type.toLowerCase() === type) map.set(meta.name.toLowerCase(), { name: meta.name, triggerName: t.name });
    }
    return map;
  }

  #index(functions: FunctionMetadata[]): void {
    const http = [];
    for (const meta of functions) {
      this.#metadata.set(meta.name.toLowerCase(), meta);
      const trigger = triggerOf(meta);
      if (!trigger) {
        this.#logger.warn(`Function ${meta.name} has no trigger binding; it will never run`);
        continue;
      }
      const type = trigger.type.toLowerCase();
      const binding = meta.bindings[trigger.name]!;
      const info: FunctionInfo = { name: meta.name, trigger: trigger.type };
      for (const [name, b] of Object.entries(meta.bindings)) {
        const bt = String(b.type ?? '').toLowerCase();
        if (name === trigger.name || DURABLE_CLIENT_TYPES.has(bt) || (bt === 'http' && b.direction === 'out')) continue;
        this.#logger.warn(`Function ${meta.name}: ${b.direction} binding "${name}" of type ${b.type} is not supported by this host and is ignored`);
      }
      try {
        if (type === 'httptrigger') {
          const fn = toHttpFunction(meta, trigger.name);
          http.push(fn);
          Object.assign(info, { route: `${this.#config.routePrefix ? `/${this.#config.routePrefix}` : ''}/${fn.route.template}`, methods: [...fn.methods], authLevel: fn.authLevel });
        } else if (type === 'timertrigger') {
          const schedule = resolveSettingExpression(String(binding.schedule ?? ''), this.#config.settings);
          this.#timerFns.set(meta.name.toLowerCase(), TimerTriggers.parse(meta.name, trigger.name, schedule, binding.runOnStartup === true));
        } else if (type === 'servicebustrigger') {
          this.#sbFns.set(meta.name.toLowerCase(), toServiceBusFunction(meta, trigger.name, this.#config.settings, this.#config.serviceBus.autoCompleteMessages));
        } else if (type !== 'orchestrationtrigger' && type !== 'activitytrigger') {
          this.#logger.warn(`Function ${meta.name}: trigger type ${trigger.type} is not supported by this host; it will never run`);
        }
      } catch (err) {
        throw new HostError('InvalidFunction', `Function ${meta.name}: ${toError(err).message}`);
      }
      this.functions.push(info);
    }
    this.#router = new HttpRouter(http);
  }

  /** Invokes a function in the worker, adding the input bindings the host provides (durable client). */
  async invoke(name: string, inputData: RpcParameterBinding[], triggerMetadata?: Record<string, RpcTypedData>): Promise<RpcInvocationResponse> {
    const worker = this.#worker;
    const meta = this.#metadata.get(name.toLowerCase());
    if (!worker || !meta) throw new HostError('FunctionNotFound', `Function ${name} is not loaded`, 404);
    const inputs = [...inputData];
    for (const [bindingName, b] of Object.entries(meta.bindings)) {
      if (b.direction === 'in' && DURABLE_CLIENT_TYPES.has(String(b.type ?? '').toLowerCase())) {
        const data = durableClientData(this.#origin, this.#config.hubName, this.#config.keys.durableTask);
        inputs.push({ name: bindingName, data: { string: JSON.stringify(data) } });
      }
    }
    return worker.invoke(meta.name, { functionId: meta.functionId ?? meta.name, inputData: inputs, triggerMetadata: triggerMetadata ?? {} });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // The request's own Host header, as the real host sees it (status URLs handed back use it).
      const url = new URL(req.url ?? '/', req.headers.host && URL.canParse(`http://${req.headers.host}`) ? `http://${req.headers.host}` : this.#origin);
      const pathname = url.pathname;
      const webhook = pathname.toLowerCase().startsWith(`${WEBHOOK_PATH}/`);
      // While closing, as Azure drains an instance: no new invocations, but the invocations in
      // flight finish, and the Durable calls they make (start, raise, status) still work.
      if (this.state !== 'running' && !(this.state === 'closing' && webhook && !this.#engineStopping)) {
        throw new HostError('HostUnavailable', `The host is ${this.state}`, 503);
      }
      const body = await readBody(req);
      const prefix = this.#config.routePrefix ? `/${this.#config.routePrefix}` : '';
      if (webhook) {
        this.#requireKey(req, url, [this.keys.durableTask, this.keys.master], 'the durable task extension key or the master key');
        await handleDurableApi(
          this.#engine,
          { origin: this.#origin, hub: this.#config.hubName, systemKey: this.keys.durableTask },
          req,
          res,
          url,
          pathname.slice(WEBHOOK_PATH.length),
          body,
        );
        return;
      }
      if (pathname.toLowerCase().startsWith('/admin/')) {
        await this.#admin(req, res, url, body);
        return;
      }
      if (pathname === '/' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Your Functions app is up and running (local functions-host).\n');
        return;
      }
      if (prefix === '' || pathname.toLowerCase() === prefix || pathname.toLowerCase().startsWith(`${prefix}/`)) {
        this.#httpInFlight++;
        try {
          await this.#api(req, res, url, pathname.slice(prefix.length), body);
        } finally {
          if (--this.#httpInFlight === 0) for (const idle of this.#httpIdle.splice(0)) idle();
        }
        return;
      }
      throw new HostError('NotFound', `Nothing is served at ${pathname}`, 404);
    } catch (err) {
      const e = toError(err);
      const status = e instanceof HostError ? e.status : ((e as { status?: number }).status ?? 500);
      const code = e instanceof HostError ? e.code : 'InternalError';
      if (status >= 500 && !(e instanceof HostError)) this.#logger.error(e.stack ?? e.message);
      sendProblem(res, status, code, e.message);
    }
  }

  #requireKey(req: IncomingMessage, url: URL, accepted: string[], what: string): void {
    const key = presentedKey(req, url);
    if (key === undefined) throw new HostError('Unauthorized', `This endpoint needs ${what} (x-functions-key header or code query parameter)`, 401);
    if (!keyMatches(key, accepted)) throw new HostError('Unauthorized', `The key presented is not ${what}`, 401);
  }

  async #api(req: IncomingMessage, res: ServerResponse, url: URL, route: string, body: Buffer): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const found = this.#router.match(route, method);
    if (found === 'method') throw new HostError('MethodNotAllowed', `${method} is not allowed on ${url.pathname}`, 405);
    if (!found) throw new HostError('NotFound', `No function serves ${url.pathname}`, 404);
    const key = presentedKey(req, url);
    if (!authorize(found.fn.authLevel, key, this.keys)) {
      const needed = found.fn.authLevel === 'admin' ? 'the master key' : 'a function key';
      // A caller who sent a key needs to hear it was refused, not that one is missing.
      const message = key === undefined
        ? `Function ${found.fn.name} needs ${needed} (x-functions-key header or code query parameter)`
        : `Function ${found.fn.name} refused the key presented: it is not ${needed} of this host`;
      throw new HostError('Unauthorized', message, 401);
    }
    const rpc = toRpcHttp(req, url, body, found.params);
    let response: RpcInvocationResponse;
    try {
      response = await this.invoke(found.fn.name, [{ name: found.fn.triggerName, data: { http: rpc } }]);
    } catch (err) {
      throw new HostError('WorkerUnavailable', `Function ${found.fn.name} could not run: ${toError(err).message}`, 503);
    }
    writeHttpResponse(res, found.fn.name, response);
  }

  async #admin(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
    this.#requireKey(req, url, [this.keys.master], 'the master key');
    const method = (req.method ?? 'GET').toUpperCase();
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[1] === 'host' && parts[2] === 'status' && method === 'GET') {
      sendJson(res, 200, { state: this.state === 'running' ? 'Running' : this.state, version: 'functions-host', functions: this.functions });
      return;
    }
    if (parts[1] === 'functions' && parts.length === 2 && method === 'GET') {
      sendJson(res, 200, this.functions);
      return;
    }
    if (parts[1] === 'functions' && parts.length === 3 && method === 'POST') {
      const name = parts[2]!;
      const meta = this.#metadata.get(name.toLowerCase());
      if (!meta) throw new HostError('FunctionNotFound', `No function named ${name}`, 404);
      let input: unknown;
      if (body.length > 0) {
        try {
          input = (JSON.parse(body.toString('utf8')) as { input?: unknown }).input;
        } catch {
          throw new HostError('BadRequest', 'The body must be JSON: {"input": "..."}', 400);
        }
      }
      const key = name.toLowerCase();
      const timer = this.#timerFns.get(key);
      const sb = this.#sbFns.get(key);
      let run: Promise<unknown>;
      if (timer) run = this.#timers.runNow(timer);
      else if (sb) run = this.invoke(meta.name, [{ name: sb.triggerName, data: { string: typeof input === 'string' ? input : JSON.stringify(input ?? null) } }]);
      else throw new HostError('BadRequest', `Function ${meta.name} (${triggerOf(meta)?.type}) cannot be run through the admin API; only timer and Service Bus functions can`, 400);
      void run
        .then((r) => {
          const response = r as RpcInvocationResponse | undefined;
          if (response?.result && response.result.status !== 'success') {
            this.#logger.error(`Manual run of ${meta.name} failed: ${response.result.exception?.message}`);
          }
        })
        .catch((e: unknown) => this.#logger.error(`Manual run of ${meta.name} failed: ${toError(e).message}`));
      res.writeHead(202, { 'content-length': '0' });
      res.end();
      return;
    }
    throw new HostError('NotFound', `No admin endpoint ${method} ${url.pathname}`, 404);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.state = 'closing';
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await within(what, CLOSE_STEP_MS, fn);
      } catch (err) {
        this.#logger.error(`Closing the host: ${what}: ${toError(err).message}`);
      }
    };
    await step('timers', () => this.#timers.stop());
    await step('Service Bus triggers', () => this.#serviceBus?.stop());
    await step('HTTP invocations in flight', () => (this.#httpInFlight === 0 ? undefined : new Promise<void>((resolve) => this.#httpIdle.push(resolve))));
    this.#engineStopping = true;
    await step('durable engine', () => this.#engine?.stop());
    await step('HTTP server', async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeIdleConnections();
      const force = setTimeout(() => this.#server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(force);
    });
    await step('language worker', () => this.#worker?.stop());
    await step('durable store', () => this.#store.close());
    this.state = 'closed';
  }
}

/** Loads the app and starts the host; resolves once it serves requests. */
export async function startHost(options: HostOptions): Promise<Host> {
  if (!options || typeof options.appDir !== 'string' || options.appDir === '') {
    throw new HostError('BadOptions', 'startHost needs { appDir }: the folder of the Functions app');
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) {
    throw new HostError('BadOptions', `port must be an integer from 0 to 65535, got ${options.port}`);
  }
  const config = loadAppConfig(options.appDir, options.settings);
  const host = new FunctionsHost(options, config);
  try {
    await host.start();
  } catch (err) {
    await host.close();
    throw err;
  }
  return host;
}
