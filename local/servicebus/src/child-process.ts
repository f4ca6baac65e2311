// The emulator's CLI as a child process, for tests and benchmarks that need it in a process of
// its own (to kill it, to give it a core, to run another checkout's emulator): spawns the CLI
// (TypeScript sources through tsx, or the built JavaScript), waits for its JSON `ready` line and
// hands back the connection string and port. If the emulator exits (or stays silent) first, the
// promise rejects with what it printed.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface SpawnEmulatorOptions {
  /**
   * The CLI to run: its file (`…/src/cli.ts` or `…/dist/cli.js`), or a directory holding it: the
   * root of a checkout (`local/servicebus/src/cli.ts`) or of this package (`src/cli.ts`, else
   * `dist/cli.js`). Default: this package's own CLI.
   */
  cli?: string;
  /** The CLI's arguments, as given (e.g. `['--port', '0', '--arm-port', 'off', '--data', dir]`). */
  args?: readonly string[];
  /**
   * Entities to create at start-up, passed as `--config`: a file, or the file's content (written
   * to a temporary file that is removed when the emulator exits).
   */
  config?: string | object;
  /** Node's own options, before the script and after tsx's (e.g. `--cpu-prof`, an `--import` of a .ts probe). */
  nodeArgs?: readonly string[];
  /** Working directory; `--import tsx` is resolved from it. Default: the current one. */
  cwd?: string;
  /** Environment. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** `pipe` (default): stderr is kept in output(); `inherit`: it goes to this process's stderr. */
  stderr?: 'pipe' | 'inherit';
  /** How long to wait for the `ready` line (default 60 s); then the child is killed. */
  readyTimeoutMs?: number;
}

/** The `ready` log line of the CLI. */
export interface EmulatorReadyLine {
  msg: 'ready';
  connectionString: string;
  amqpsConnectionString?: string;
  armEndpoint?: string;
  healthUrl?: string;
  caCertificateFile?: string;
  sasKeyName?: string;
  dataDir?: string | null;
  [field: string]: unknown;
}

export interface EmulatorChildProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The AMQP connection string of the `ready` line. */
  readonly connectionString: string;
  /** The AMQP port it listens on. */
  readonly port: number;
  readonly ready: EmulatorReadyLine;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The emulator's recent output (stdout, and stderr unless inherited; the last 16,000 characters). */
  output(): string;
  /**
   * Sends `signal` (default SIGTERM: a clean shutdown) unless it has exited, and waits for the
   * exit; with `killAfterMs`, sends SIGKILL if it has not exited by then.
   */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const OUTPUT_LIMIT = 16_000;

/** The CLI file for `cli` (a file, a checkout root, this package's root) or this package's own. */
export function emulatorCliPath(cli?: string): string {
  if (cli === undefined) {
    const own = fileURLToPath(new URL('.', import.meta.url));
    return existsSync(join(own, 'cli.ts')) ? join(own, 'cli.ts') : join(own, 'cli.js');
  }
  if (!existsSync(cli)) throw new Error(`servicebus-emulator: no CLI at ${cli}`);
  if (!statSync(cli).isDirectory()) return cli;
  const candidates = [join(cli, 'local', 'servicebus', 'src', 'cli.ts'), join(cli, 'src', 'cli.ts'), join(cli, 'dist', 'cli.js')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`servicebus-emulator: no CLI in ${cli} (looked for ${candidates.join(', ')})`);
  return found;
}

/** Spawns the emulator's CLI and resolves once it printed its `ready` line. */
export async function spawnEmulator(options: SpawnEmulatorOptions = {}): Promise<EmulatorChildProcess> {
  const cli = emulatorCliPath(options.cli);
  let configDir: string | undefined;
  let configFile: string | undefined;
  if (typeof options.config === 'string') configFile = options.config;
  else if (options.config !== undefined) {
    configDir = mkdtempSync(join(tmpdir(), 'servicebus-emulator-config-'));
    configFile = join(configDir, 'entities.json');
    writeFileSync(configFile, JSON.stringify(options.config));
  }
  const loader = cli.endsWith('.ts') ? ['--import', 'tsx', '--conditions', 'source'] : [];
  const args = [...loader, ...(options.nodeArgs ?? []), cli, ...(options.args ?? []), ...(configFile ? ['--config', configFile] : [])];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', options.stderr ?? 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (configDir) rmSync(configDir, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  let out = '';
  const append = (text: string) => (out = (out + text).slice(-OUTPUT_LIMIT));
  child.stderr?.on('data', (d: Buffer) => append(String(d)));
  // Read to the end, after `ready` too: a full pipe would block the emulator.
  const lines = createInterface({ input: child.stdout! });

  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  let ready: EmulatorReadyLine;
  try {
    ready = await new Promise<EmulatorReadyLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the emulator (${cli}) was not ready after ${timeoutMs} ms; its output:\n${out}`));
      }, timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`the emulator (${cli}) could not be started: ${err.message}`));
      });
      lines.on('line', (line) => {
        append(`${line}\n`);
        let entry: Partial<EmulatorReadyLine>;
        try {
          entry = JSON.parse(line) as Partial<EmulatorReadyLine>;
        } catch {
          return; // not a log line
        }
        if (entry.msg === 'ready' && typeof entry.connectionString === 'string') {
          clearTimeout(timer);
          resolve(entry as EmulatorReadyLine);
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`the emulator (${cli}) exited (${signal ?? code}) before it was ready; its output:\n${out}`));
      });
    });
  } catch (err) {
    // Not spawned at all (no exit event to clean up after).
    if (configDir && child.pid === undefined) rmSync(configDir, { recursive: true, force: true });
    throw err;
  }
  const port = Number(/^Endpoint=sb:\/\/[^;/]+:(\d+)/.exec(ready.connectionString)?.[1]);
  if (!port) {
    child.kill('SIGKILL');
    throw new Error(`no port in the emulator's connection string ${ready.connectionString}`);
  }

  return {
    child,
    pid: child.pid ?? -1,
    connectionString: ready.connectionString,
    port,
    ready,
    exited,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs?: number) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      if (killAfterMs === undefined) return exited;
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
