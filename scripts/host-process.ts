// The local Functions host as a process of its own (local/functions-host's command line), for an
// app with its own identity: @azure/identity finds the identity in the process's environment
// (IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID) and Node reads the CAs it trusts for the
// emulator's AMQPS listener (NODE_EXTRA_CA_CERTS) when the process starts, so neither can be given
// to a host inside another process. Its app settings are its environment, as in Azure.

import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '@workforce/functions-host';

export interface HostProcessOptions {
  appDir: string;
  dataDir: string;
  /** 0 picks a free one. */
  port: number;
  /** The app settings: the whole environment of the host and its language worker. */
  env: Readonly<Record<string, string>>;
  /** Where the host's output goes, line by line (default: nowhere). */
  logger?: Logger;
}

/** What the tests and `npm start` use of a host, in or out of process. */
export interface HostProcess {
  readonly url: string;
  readonly keys: { readonly function: string };
  readonly pid: number;
  /** SIGTERM, then waits for the host to close; SIGKILL after 10 s. Idempotent. */
  close(): Promise<void>;
}

const CLI = fileURLToPath(new URL('../local/functions-host/src/cli.ts', import.meta.url));
const LISTENING = /Functions host listening on (http:\/\/\S+)/;

export async function startHostProcess(options: HostProcessOptions): Promise<HostProcess> {
  const functionKey = options.env.FUNCTIONS_HOST_FUNCTION_KEY;
  if (!functionKey) throw new Error('the host process needs FUNCTIONS_HOST_FUNCTION_KEY in its settings');
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(
    process.execPath,
    ['--import', tsx, '--conditions=source', CLI, '--app', options.appDir, '--port', String(options.port), '--data-dir', options.dataDir],
    { env: { ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onLine = (line: string): void => {
      output += `${line}\n`;
      options.logger?.appOutput(`${line}\n`);
      const m = LISTENING.exec(line);
      if (m) resolve(m[1]!);
    };
    lines(child, onLine);
    child.once('error', reject);
    void exited.then(() => reject(new Error(`the Functions host exited before it listened (code ${child.exitCode}, signal ${child.signalCode}):\n${output.slice(-4000)}`)));
  });
  let closing: Promise<void> | undefined;
  return {
    url,
    keys: { function: functionKey },
    pid: child.pid!,
    close() {
      closing ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const line of parts) onLine(line);
    });
  }
}
