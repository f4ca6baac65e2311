// The host's side of the language worker: forks the worker process (through tsx when the host
// runs from its sources), loads the app there, and sends it invocations over the IPC channel;
// when the worker exits, its invocations in flight fail (the host then starts a new one), and
// `stop` asks it to run the app's terminate hooks before it goes.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HostError } from './errors.js';
import type { Logger } from './logger.js';
import type {
  FunctionMetadata,
  HostMessage,
  RpcInvocationRequest,
  RpcInvocationResponse,
  WorkerMessage,
} from './worker/protocol.js';

interface Pending {
  resolve(response: RpcInvocationResponse): void;
  reject(err: Error): void;
}

/** Entry of the worker process; when the host runs from its TypeScript sources, so does the worker (through tsx). */
function workerEntry(): { file: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? './worker/main.ts' : './worker/main.js', import.meta.url));
  if (!fromSource) return { file, execArgv: [] };
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return { file, execArgv: ['--import', pathToFileURL(tsx).href] };
}

export interface LanguageWorkerOptions {
  appDir: string;
  files: readonly string[];
  env: Readonly<Record<string, string>>;
  logger: Logger;
}

/**
 * Host side of the language worker: spawns it, loads the app, and sends it invocations.
 * The app runs in its own process, with its own environment (app settings) and module cache,
 * as it does under the real host.
 */
export class LanguageWorker {
  #opts: LanguageWorkerOptions;
  #child: ChildProcess | undefined;
  #pending = new Map<string, Pending>();
  #stopping = false;
  #onCrash: ((err: Error) => void) | undefined;
  #shutdownDone: (() => void) | undefined;

  constructor(opts: LanguageWorkerOptions) {
    this.#opts = opts;
  }

  /** Called when the worker dies while the host is running. */
  onCrash(handler: (err: Error) => void): void {
    this.#onCrash = handler;
  }

  async start(): Promise<FunctionMetadata[]> {
    const { file, execArgv } = workerEntry();
    const child = fork(file, [], {
      cwd: this.#opts.appDir,
      env: { ...this.#opts.env },
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#child = child;
    const logger = this.#opts.logger;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => logger.appOutput(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => logger.appOutput(chunk));

    const loaded = new Promise<FunctionMetadata[]>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        reject(new HostError('WorkerFailed', `The language worker exited while loading the app (code ${code}, signal ${signal})`));
      };
      child.once('exit', onExit);
      child.on('message', (message: WorkerMessage) => {
        if (message.t === 'loaded') {
          child.off('exit', onExit);
          for (const w of message.warnings) logger.warn(w);
          resolve(message.functions);
        } else if (message.t === 'loadFailed') {
          child.off('exit', onExit);
          reject(new HostError('AppLoadFailed', `The app failed to load: ${message.message}\n${message.stack ?? ''}`.trim()));
        } else {
          this.#onMessage(message);
        }
      });
    });
    child.on('exit', (code, signal) => this.#onExit(code, signal));
    this.#send({ t: 'load', appDir: this.#opts.appDir, files: [...this.#opts.files] });
    try {
      return await loaded;
    } catch (err) {
      this.#stopping = true;
      child.kill('SIGKILL');
      throw err;
    }
  }

  #send(message: HostMessage): void {
    this.#child?.send(message);
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.t) {
      case 'log':
        this.#opts.logger.functionLog(message);
        break;
      case 'response': {
        const id = message.response.invocationId ?? '';
        const pending = this.#pending.get(id);
        this.#pending.delete(id);
        pending?.resolve(message.response);
        break;
      }
      case 'shutdownDone':
        this.#shutdownDone?.();
        break;
      default:
        break;
    }
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const err = new HostError('WorkerExited', `The language worker exited (code ${code}, signal ${signal})`);
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#child = undefined;
    if (!this.#stopping) this.#onCrash?.(err);
  }

  /** Invokes a function; resolves with the worker's response (which may report a failure). */
  invoke(functionName: string, request: Omit<RpcInvocationRequest, 'invocationId'>): Promise<RpcInvocationResponse> {
    const child = this.#child;
    if (!child?.connected) return Promise.reject(new HostError('WorkerUnavailable', 'The language worker is not running'));
    const invocationId = randomUUID();
    return new Promise<RpcInvocationResponse>((resolve, reject) => {
      this.#pending.set(invocationId, { resolve, reject });
      this.#send({ t: 'invoke', functionName, request: { ...request, invocationId } });
    });
  }

  /** Runs appTerminate hooks, then ends the worker. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) {
      const done = new Promise<void>((resolve) => {
        this.#shutdownDone = resolve;
      });
      this.#send({ t: 'shutdown' });
      await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      if (child.connected) child.disconnect();
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(killer);
  }
}
