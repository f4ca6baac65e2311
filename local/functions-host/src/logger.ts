// Where the host writes its own lines and the app's logs: the console, or nowhere (tests).
import type { RpcLogCategory, RpcLogLevel } from './worker/protocol.js';

/** Where the host writes its own lines and the app's logs. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  functionLog(entry: { level: RpcLogLevel; category: RpcLogCategory; message: string; functionName?: string }): void;
  appOutput(chunk: string): void;
}

export function consoleLogger(): Logger {
  const line = (text: string): void => {
    process.stdout.write(`[${new Date().toISOString()}] ${text}\n`);
  };
  return {
    info: line,
    warn: (m) => line(`warning: ${m}`),
    error: (m) => line(`error: ${m}`),
    functionLog: (e) => {
      if (e.level === 'none' || (e.category === 'system' && (e.level === 'debug' || e.level === 'trace'))) return;
      line(`${e.functionName ? `[${e.functionName}] ` : ''}${e.level === 'information' ? '' : `${e.level}: `}${e.message}`);
    },
    appOutput: (chunk) => process.stdout.write(chunk),
  };
}

export function silentLogger(): Logger {
  const noop = (): void => undefined;
  return { info: noop, warn: noop, error: noop, functionLog: noop, appOutput: noop };
}
