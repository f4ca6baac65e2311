/**
 * The language worker: a child process of the host that plays the part of the Azure
 * Functions Node.js worker. It serves `@azure/functions-core` to `require`, loads the app's
 * entry files (so `@azure/functions` registers every function through that contract),
 * then runs invocations the host sends over the IPC channel.
 */
import Module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { CoreApiRegistry } from './core-api.js';
import { invokeFunction } from './invoke.js';
import type { HostMessage, WorkerMessage } from './protocol.js';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

const registry = new CoreApiRegistry((level, category, message, invocation) =>
  send({ t: 'log', level, category, message, invocationId: invocation?.invocationId, functionName: invocation?.functionName }),
);
const coreModule = registry.createModule();

// Serve the core API to `require('@azure/functions-core')`, as the real worker does, before
// anything can load `@azure/functions` (which caches the module on first use).
type LoadFn = (request: string, parent: unknown, isMain: boolean) => unknown;
const moduleWithLoad = Module as unknown as { _load: LoadFn };
const originalLoad = moduleWithLoad._load;
moduleWithLoad._load = function (request: string, parent: unknown, isMain: boolean): unknown {
  if (request === '@azure/functions-core') return coreModule;
  return originalLoad.call(this, request, parent, isMain);
};

async function load(appDir: string, files: string[]): Promise<void> {
  try {
    process.chdir(appDir);
    for (const file of files) {
      await import(pathToFileURL(path.resolve(appDir, file)).href);
    }
    registry.registrationOpen = false;
    const model = registry.programmingModel;
    if (model?.getCapabilities) {
      // Locks the library's setup(). With streaming on, the library would wait for each request
      // on its own HTTP proxy, which this host does not feed: refuse rather than hang.
      const caps = await model.getCapabilities({});
      if (caps.HttpUri) throw new Error('HTTP streaming (app.setup({ enableHttpStream: true })) is not supported by this host');
    }
    for (const hook of [...registry.hooks.appStart]) {
      await hook({ hookData: {}, appHookData: registry.appHookData, functionAppDirectory: appDir });
    }
    send({
      t: 'loaded',
      functions: [...registry.functions.values()].map((f) => f.metadata),
      programmingModel: model ? `${model.name}@${model.version}` : undefined,
      warnings: [],
    });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    send({ t: 'loadFailed', message: e.message, stack: e.stack });
  }
}

async function shutdown(): Promise<void> {
  for (const hook of [...registry.hooks.appTerminate]) {
    try {
      await hook({ hookData: {}, appHookData: registry.appHookData });
    } catch (err) {
      registry.log('error', 'system', `appTerminate hook failed: ${format(err)}`);
    }
  }
  send({ t: 'shutdownDone' });
}

process.on('message', (message: HostMessage) => {
  switch (message.t) {
    case 'load':
      void load(message.appDir, message.files);
      break;
    case 'invoke':
      void invokeFunction(registry, message.functionName, message.request).then((response) => send({ t: 'response', response }));
      break;
    case 'shutdown':
      void shutdown();
      break;
  }
});
// The worker lives exactly as long as its channel to the host.
process.on('disconnect', () => process.exit(0));
process.on('unhandledRejection', (reason) => registry.log('error', 'system', `Unhandled rejection in the app: ${format(reason)}`));
process.on('uncaughtException', (err) => {
  registry.log('critical', 'system', `Uncaught exception in the app: ${err.stack ?? err.message}`);
  process.exit(1);
});
