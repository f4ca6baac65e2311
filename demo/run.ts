// `npm run demo`: the local system (scripts/local-system.ts, as `npm start` runs it) plus a small
// fleet: 3 topics × 4 nodes, each a real agent with a Node and a Python example worker taking tasks. Prints what to type next; Ctrl-C stops everything.
// State lives in .data/demo (DEMO_DATA_DIR) and starts fresh on every run. DEMO_TOPICS (comma
// separated) and DEMO_NODES_PER_TOPIC size the fleet; PORT, SERVICEBUS_*_PORT as for `npm start`.

import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '@workforce/functions-host';
import { portsFromEnv, startLocalSystem, type LocalSystem } from '../scripts/local-system.js';
import { followEvents } from './events.js';
import { ROOT, startFleet, stopFleet, type FleetNode } from './fleet.js';

const DATA = process.env.DEMO_DATA_DIR ? path.resolve(process.env.DEMO_DATA_DIR) : path.join(ROOT, '.data', 'demo');
const TOPICS = (process.env.DEMO_TOPICS ?? 'eu-west,us-east,asia-south').split(',');
const NODES = Number(process.env.DEMO_NODES_PER_TOPIC ?? 4);
const KEY = process.env.FUNCTIONS_HOST_FUNCTION_KEY ?? 'workforce-demo';

const log = (line: string) => process.stdout.write(`${line}\n`);

let system: LocalSystem | undefined;
let nodes: FleetNode[] = [];
let stopEvents = () => {};

async function main(): Promise<void> {
  const started = Date.now();
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'functions'))) throw new Error('dist/src/functions is missing: run `npm install` (or `npm run build`) first');
  rmSync(DATA, { recursive: true, force: true });
  const python = spawnSync('python3', ['--version']).status === 0;

  system = await startLocalSystem({
    appDir: ROOT,
    dataDir: DATA,
    ...portsFromEnv(),
    functionKey: KEY,
    logger: silentLogger(),
  });
  const { host } = system;
  const { emulator } = system.bus;
  const api = host.url.replace('127.0.0.1', 'localhost');
  for (const topic of TOPICS) {
    const res = await fetch(`${host.url}/api/topics/${topic}`, { method: 'PUT', headers: { 'x-functions-key': KEY } });
    if (!res.ok) throw new Error(`provisioning ${topic}: HTTP ${res.status} ${await res.text()}`);
  }
  log(`Starting ${TOPICS.length} topics × ${NODES} nodes (agent + Node worker${python ? ' + Python worker' : ''} each)…`);
  nodes = await startFleet({
    dir: path.join(DATA, 'nodes'),
    connectionString: emulator.connectionString,
    topics: TOPICS,
    nodesPerTopic: NODES,
    tasks: 200,
    taskMs: [6_000, 20_000],
    python,
  });
  const apiFlag = api === 'http://localhost:7071' ? '' : ` --api ${api}`;
  log(`
Workforce demo is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s).

  Dashboard   ${api}/api/dashboard?code=${KEY}
  Fleet       ${nodes.length} nodes on ${TOPICS.join(', ')}; logs and queues in ${path.relative(process.cwd(), path.join(DATA, 'nodes')) || '.'}
  Service Bus ${emulator.connectionString}
${python ? '' : '  (python3 not found: Node workers only)\n'}
In another terminal:

  export WORKFORCE_API_KEY=${KEY}
  npx workforce drain ${TOPICS[0]} --count 2 --deadline 5m --reason "try it"${apiFlag} --wait
  npx workforce drain ${TOPICS[1]} --count 1 --mode do-not-accept-new-tasks${apiFlag}
  npx workforce drains${apiFlag}

Workers' tasks take 6-20 s; a drained node finishes its task, then its workers exit.
Ctrl-C stops the fleet and the local system.
`);
  stopEvents = followEvents(nodes, log);
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  stopEvents();
  log('\nStopping the fleet…');
  await stopFleet(nodes).catch((e: unknown) => process.stderr.write(`stopping the fleet: ${String(e)}\n`));
  await system?.close();
  process.exit(code);
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

main().catch((err: unknown) => {
  process.stderr.write(`npm run demo: ${(err as Error).message ?? String(err)}\n`);
  void stop(1);
});
