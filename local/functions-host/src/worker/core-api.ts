// The `@azure/functions-core` module the language worker serves to the app: registration of
// functions and hooks, the programming model, logging, and the registry the worker reads back.
import type {
  FunctionMetadata,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
} from './protocol.js';

/**
 * The `@azure/functions-core` module: the contract that the Node.js language worker gives
 * `@azure/functions` (registerFunction, registerHook, setProgrammingModel, getProgrammingModel,
 * log, Disposable). The worker serves this object to `require('@azure/functions-core')`.
 */

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: Record<string, unknown>) => unknown;
export type HookName = 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate' | 'log';
export type InvocationState = 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: FunctionMetadata & { functionId: string };
  state?: InvocationState;
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(capabilities: Record<string, string>): Record<string, string> | Promise<Record<string, string>>;
}

export class Disposable {
  static from(...items: { dispose(): unknown }[]): Disposable {
    let pending: { dispose(): unknown }[] | undefined = items;
    return new Disposable(() => {
      for (const item of pending ?? []) item?.dispose?.();
      pending = undefined;
    });
  }

  #onDispose: (() => unknown) | undefined;

  constructor(onDispose: () => unknown) {
    this.#onDispose = onDispose;
  }

  dispose(): unknown {
    const fn = this.#onDispose;
    this.#onDispose = undefined;
    return fn?.();
  }
}

export interface RegisteredFunction {
  metadata: FunctionMetadata & { functionId: string };
  callback: FunctionCallback;
}

export type LogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string, invocation?: { invocationId: string; functionName: string; context: unknown }) => void;

/** Registry behind the core API: one per worker process. */
export class CoreApiRegistry {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks: Record<HookName, HookCallback[]> = {
    preInvocation: [],
    postInvocation: [],
    appStart: [],
    appTerminate: [],
    log: [],
  };
  readonly appHookData: Record<string, unknown> = {};
  programmingModel: ProgrammingModel | undefined;
  registrationOpen = true;
  #sink: LogSink;

  constructor(sink: LogSink) {
    this.#sink = sink;
  }

  /** The object handed to `require('@azure/functions-core')`. */
  createModule(): Record<string, unknown> {
    return {
      version: '3.10.1',
      hostVersion: '4.1037.0',
      Disposable,
      registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback) => this.registerFunction(metadata, callback),
      registerHook: (name: string, callback: HookCallback) => this.registerHook(name, callback),
      setProgrammingModel: (model: ProgrammingModel) => {
        this.programmingModel = model;
      },
      getProgrammingModel: () => this.programmingModel,
      log: (level: RpcLogLevel, category: RpcLogCategory, message: string) => this.log(level, category, message),
    };
  }

  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (!this.registrationOpen) {
      throw new Error('A function can only be registered during app startup.');
    }
    if (!metadata?.name || typeof callback !== 'function') {
      throw new TypeError('registerFunction needs metadata with a name and a callback');
    }
    const key = metadata.name.toLowerCase();
    if (this.functions.has(key)) {
      throw new Error(`A function with name "${metadata.name}" has already been registered.`);
    }
    this.functions.set(key, { metadata: { ...metadata, functionId: metadata.functionId ?? metadata.name }, callback });
    return new Disposable(() => {
      if (!this.registrationOpen) throw new Error('A function can only be disposed during app startup.');
      this.functions.delete(key);
    });
  }

  registerHook(name: string, callback: HookCallback): Disposable {
    if (!(name in this.hooks)) {
      // Same error type the real worker raises, so the library can tell "too old" apart.
      const err = new RangeError(`Unrecognized hook "${name}"`) as RangeError & { isAzureFunctionsSystemError?: boolean };
      err.isAzureFunctionsSystemError = true;
      throw err;
    }
    const list = this.hooks[name as HookName];
    list.push(callback);
    return new Disposable(() => {
      const i = list.indexOf(callback);
      if (i >= 0) list.splice(i, 1);
    });
  }

  log(
    level: RpcLogLevel,
    category: RpcLogCategory,
    message: string,
    invocation?: { invocationId: string; functionName: string; context: unknown },
  ): void {
    const ctx = { hookData: {}, appHookData: this.appHookData, invocationContext: invocation?.context, category, level, message };
    for (const hook of [...this.hooks.log]) {
      try {
        hook(ctx);
      } catch {
        // a failing log hook must not break logging
      }
    }
    this.#sink(category === 'user' ? ctx.level : level, category, category === 'user' ? ctx.message : message, invocation);
  }
}
