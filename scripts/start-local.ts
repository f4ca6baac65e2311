// `npm start`: the whole control plane on this machine (scripts/local-system.ts): the Service Bus
// emulator (state in .data/servicebus) with the reports queue, Azurite's Table service (the fleet
// inventory, state in .data/azurite), and the local Functions host
// serving this app (built to dist/ by the npm script) on http://localhost:7071. Prints what
// operators and agents need. Ctrl-C stops them all.
//
// `npm start -- --identities[=topic,…]`: every process by managed identity instead (the local
// token issuer; scripts/local-identities.ts), agents' identities for the topics given (default
// eu-west); prints each process's environment.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleLogger } from '@workforce/functions-host';
import type { HostProcess } from './host-process.js';
import { agentIdentity, OPERATOR_IDENTITY } from './local-identities.js';
import { identityPortFromEnv, portsFromEnv, startLocalSystem, type LocalSystem } from './local-system.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = path.join(ROOT, '.data');

/** One function key per checkout, kept in .data, so exported WORKFORCE_API_KEY stays valid across restarts. */
function localFunctionKey(): string {
  if (process.env.FUNCTIONS_HOST_FUNCTION_KEY) return process.env.FUNCTIONS_HOST_FUNCTION_KEY;
  const file = path.join(DATA, 'function-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(24).toString('base64url');
  mkdirSync(DATA, { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

// The copy-paste path to a real worker (README "Quick start"): one node's agent, worker and tasks.
const q = (p: string) => `'${p.replaceAll("'", "'\\''")}'`;

function agentCommand(connectionString: string, node: string): string {
  return `WORKFORCE_BACK_CHANNEL_CONNECTION_STRING='${connectionString}' npx workforce-agent listen --topic eu-west --node-id node-1 --state-dir ${q(`${node}/state`)} --pid-dir ${q(`${node}/pids`)}`;
}

function workerCommand(node: string): string {
  return `WORKFORCE_PID_DIR=${q(`${node}/pids`)} npx tsx worker-agent/examples/node/worker.ts --queue ${q(`${node}/queue`)} --topic eu-west --worker-id node-1-w1`;
}

/** Five 20-second tasks in the example's directory queue (worker-agent/examples/tasks.ts). */
function tasksCommand(node: string): string {
  return `npm run --silent tasks -w worker-agent -- add 5 --ms 20000 --queue ${q(`${node}/queue`)}`;
}

/** `--identities` or `--identities=a,b`: the agent topics; undefined without the flag. */
function identityTopics(argv: readonly string[]): string[] | undefined {
  let topics: string[] | undefined;
  for (const arg of argv) {
    if (arg === '--identities') topics = ['eu-west'];
    else if (arg.startsWith('--identities=')) topics = arg.slice('--identities='.length).split(',').filter((t) => t !== '');
    else throw new Error(`unknown argument ${JSON.stringify(arg)} (the one option is --identities[=topic,…])`);
  }
  if (topics?.length === 0) throw new Error('--identities= needs at least one topic');
  return topics;
}

const env = (vars: Record<string, string>): string => Object.entries(vars).map(([k, v]) => `${k}=${q(v)}`).join(' ');

async function mainWithIdentities(agentTopics: string[]): Promise<void> {
  const system: LocalSystem<HostProcess> = await startLocalSystem({
    appDir: ROOT,
    dataDir: DATA,
    ...portsFromEnv(),
    functionKey: localFunctionKey(),
    logger: consoleLogger(),
    identities: { agentTopics, port: identityPortFromEnv() },
  });
  const { host, bus, identities } = system;
  const api = host.url.replace('127.0.0.1', 'localhost');
  const key = host.keys.function;
  const as = (name: string) => env({ ...identities!.environmentFor(name), NODE_EXTRA_CA_CERTS: bus.caFile });
  const topic = agentTopics[0]!;
  const node = path.join(DATA, 'node-1');
  process.stdout.write(`
Workforce control plane is running, every process with its own managed identity (local token
issuer ${identities!.issuer.endpoint}; the identities, their secrets and the issuer's key are kept
in ${path.join(DATA, 'identity')} and stay the same across restarts: remove it for new ones).

  API            ${api}/api   (header x-functions-key: ${key})
    provision    curl -X PUT -H "x-functions-key: ${key}" ${api}/api/topics/${topic}
  Service Bus    namespace ${bus.namespace} (AMQPS; certificate ${bus.caFile}); no SAS key is handed out
  ARM endpoint   ${bus.emulator.armEndpoint}
  Table Storage  ${system.storage.tableServiceUri}   (Azurite over HTTPS, same certificate; the app reaches it with its identity's tokens)
  App            Contributor and Data Sender on the namespace, Data Receiver on the reports queue and each topic's shutdown subscription and commands queue (host pid ${host.pid})

An agent of ${topic} (Data Receiver on ${topic}/shutdown and ${topic}-commands, Data Sender on the reports queue):
  ${as(agentIdentity(topic))} WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE=${bus.namespace} npx workforce-agent listen --topic ${topic} --node-id node-1 --state-dir ${q(`${node}/state`)} --pid-dir ${q(`${node}/pids`)}
The operator's workforce send (Data Sender on ${agentTopics.join(', ')}):
  ${as(OPERATOR_IDENTITY)} npx workforce send ${topic} --operation graceful-downscale --count 1 --deadline 10m --namespace ${bus.namespace}

Ctrl-C stops.
`);
  process.once('SIGINT', () => void system.close());
  process.once('SIGTERM', () => void system.close());
}

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'functions'))) {
    throw new Error('dist/src/functions is missing: run `npm run build` first');
  }
  const agentTopics = identityTopics(process.argv.slice(2));
  if (agentTopics) return mainWithIdentities(agentTopics);
  const system = await startLocalSystem({
    appDir: ROOT,
    dataDir: DATA,
    ...portsFromEnv(),
    functionKey: localFunctionKey(),
    logger: consoleLogger(),
  });
  const { host, bus, storage } = system;
  const { emulator, caFile } = bus;
  const api = host.url.replace('127.0.0.1', 'localhost');
  const key = host.keys.function;
  // Absolute: a worker's PID file must name absolute paths for the agent to trust it.
  const node = path.join(DATA, 'node-1');
  const cliEnv = `export WORKFORCE_API_KEY=${key}${api === 'http://localhost:7071' ? '' : ` WORKFORCE_API_URL=${api}`}`;
  process.stdout.write(`
Workforce control plane is running.

  Dashboard      ${api}/api/dashboard?code=${key}
  API            ${api}/api   (header x-functions-key: ${key})
    CLI          export WORKFORCE_API_KEY=${key}; npx workforce drains   (key kept in .data/function-key)
    provision    curl -X PUT -H "x-functions-key: ${key}" ${api}/api/topics/eu-west
    drain        curl -X POST -H "x-functions-key: ${key}" -d '{"count":2,"gracePeriod":"2h"}' ${api}/api/topics/eu-west/drains
    status       curl -H "x-functions-key: ${key}" ${api}/api/drains/<drainId>
  Service Bus    ${emulator.connectionString}
  ARM endpoint   ${emulator.armEndpoint}   (certificate ${caFile})
  Table Storage  http://127.0.0.1:${storage.port}   (Azurite: the fleet inventory; AzureWebJobsStorage)
  State          ${DATA}

A real worker, drained (each in its own terminal in this checkout; node-1's directories are its own):
  1. the CLI     ${cliEnv}; npx workforce topic ensure eu-west
  2. an agent    ${agentCommand(emulator.connectionString, node)}
  3. a worker    ${workerCommand(node)}
  4. tasks       ${tasksCommand(node)}
  5. drain it    npx workforce drain eu-west --count 1 --deadline 10m --wait     (in the CLI's terminal)

Ctrl-C stops.
`);

  process.once('SIGINT', () => void system.close());
  process.once('SIGTERM', () => void system.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start: ${(err as Error).message ?? String(err)}\n`);
  process.exitCode = 1;
});
