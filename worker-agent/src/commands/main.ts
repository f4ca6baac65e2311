// `workforce-agent`: parse the command line → read the environment → act. Returns the exit code.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, RESUME_REQUEST, runningAgent } from '../agent/agent.js';
import { resumeIntake } from '../agent/intake-stop.js';
import { readRefusals } from '../agent/refusals.js';
import { RESET_HINT, RESET_REQUEST, resetDrained, resetRefusal } from '../agent/reset.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import {
  LISTEN_FLAGS,
  LOCAL_FLAGS,
  type LocalConfig,
  RUN_FLAGS,
  SETTINGS,
  STATUS_FLAGS,
  type SettingName,
  parseFlags,
  parseListenConfig,
  parseLocalConfig,
  parseRunConfig,
} from './config.js';
import { AgentError, toAgentError } from '../common/errors.js';
import { isIntakeStopped } from '../common/intake-flag.js';
import { createLogger } from '../common/log.js';
import { type NodeState, NodeStateStore } from '../agent/node-state.js';
import { scanWorkers } from '../pid-files/registry.js';
import { printable, terminalSafeJson } from './printable.js';
import { sendSignal } from '../common/signals.js';
import { VERSION } from '../common/version.js';

type Env = Record<string, string | undefined>;
export { VERSION };

const USAGE = `workforce-agent ${VERSION}: drains this node when the control topic says so.

usage:
  workforce-agent listen [options]                 the node agent (one per node and topic)
  workforce-agent run [options] -- <command…>      wrapper for a worker that cannot be changed
  workforce-agent status [options] [--json]        node state and registered workers
  workforce-agent resume [options]                 undo an intake stop on this node
  workforce-agent reset [options]                  re-arm a drained node (exit 1, with the reason,
                                                   while a registered worker is still alive)
  workforce-agent help [<command>] | version

Every command also answers --help and --version.
`;

const COMMAND_FLAGS = { listen: LISTEN_FLAGS, run: RUN_FLAGS, status: STATUS_FLAGS, resume: LOCAL_FLAGS, reset: LOCAL_FLAGS } as const;
type Command = keyof typeof COMMAND_FLAGS;
type Flags = ReturnType<typeof parseFlags>;

function help(command: Command | undefined): string {
  return `${USAGE}\noptions${command ? ` of ${command}` : ''} (flags win over environment variables):\n${optionsHelp(COMMAND_FLAGS[command ?? 'listen'])}\n`;
}

function optionsHelp(names: readonly SettingName[]): string {
  return names
    .map((n) => {
      const s = SETTINGS[n];
      const env = s.env.length ? `  [${s.env.join(', ')}]` : '';
      return `  --${s.flag}${s.kind === 'string' ? ' <value>' : ''}${env}\n      ${s.help}`;
    })
    .join('\n');
}

export async function main(argv: readonly string[], env: Env, out = (s: string) => process.stdout.write(s)): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command !== undefined && Object.hasOwn(COMMAND_FLAGS, command)) {
      const name = command as Command;
      // `run` stops at its command: `run -- tool --help` asks the tool, not the wrapper.
      const flags = parseFlags(args, [...COMMAND_FLAGS[name], 'help', 'version'], name === 'run');
      if (flags.values.help) {
        out(help(name));
        return 0;
      }
      if (flags.values.version) {
        out(`${VERSION}\n`);
        return 0;
      }
      switch (name) {
        case 'listen':
          return await listen(flags, env);
        case 'run':
          return await run(flags, env);
        case 'status':
          return status(flags, env, out);
        case 'resume':
          return await resume(flags, env, out);
        case 'reset':
          return await reset(flags, env, out);
      }
    }
    switch (command) {
      case 'version':
      case '--version':
        out(`${VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h': {
        const sub = args[0];
        if (sub !== undefined && !Object.hasOwn(COMMAND_FLAGS, sub)) return unknownCommand(sub);
        out(help(sub as Command | undefined));
        return command === undefined ? 2 : 0;
      }
      default:
        return unknownCommand(command);
    }
  } catch (err) {
    const e = toAgentError(err);
    process.stderr.write(`workforce-agent: ${e.message}${e.code === 'ConfigInvalid' ? '\n(see workforce-agent help ' + (command ?? '') + ')' : ''}\n`);
    // 125: `run` did not start its command (wrapper.ts), as `env` and `timeout` report their own failures.
    return e.code === 'ConfigInvalid' || e.code === 'DirectoryUnsafe' ? 2 : e.code === 'SpawnFailed' ? 125 : 1;
  }
}

function unknownCommand(command: string): number {
  process.stderr.write(`workforce-agent: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  return 2;
}

async function listen({ values }: Flags, env: Env): Promise<number> {
  const config = parseListenConfig(env, values);
  const log = createLogger(config.logLevel);
  const agent = new Agent(config, { log });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    void agent.close();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => agent.processRequests());
  const closed = new Promise<void>((resolve) => agent.once('closed', resolve));
  await agent.start();
  await closed;
  // Closed cleanly; a Service Bus link abandoned mid-open may still hold a timer: do not wait for it.
  setTimeout(() => process.exit(0), 200).unref();
  return 0;
}

async function run({ values, rest }: Flags, env: Env): Promise<number> {
  const config = parseRunConfig(env, values, rest);
  // Loaded only here: `listen` needs neither the wrapper nor child_process.
  const { exitLike, runWrapped } = await import('../wrapper/wrapper.js');
  const exit = await runWrapped(config, env, createLogger(config.logLevel));
  return exitLike(exit);
}

function loadState(config: LocalConfig): NodeState | undefined {
  return new NodeStateStore(config.stateDir).read();
}

function status({ values }: Flags, env: Env, out: (s: string) => void): number {
  const config = parseLocalConfig(env, values);
  const state = loadState(config);
  const agent = runningAgent(config.stateDir);
  const scan = scanWorkers(config.pidDir, { topic: config.topic, legacyConvention: config.legacySignals });
  const workers = scan.mine.map((w) => ({
    workerId: w.workerId,
    pid: w.pid,
    format: w.format,
    status: w.verification.status,
    ...(w.verification.status === 'verified' ? {} : { reason: w.verification.reason }),
    signals: w.signals,
  }));
  const report = {
    nodeId: state?.nodeId ?? config.nodeId,
    topic: config.topic,
    state: state?.state ?? 'active',
    since: state?.since,
    agent: agent ? { running: true, pid: agent.pid } : { running: false },
    intakeFlag: { path: config.intakeFlag, present: isIntakeStopped(config.intakeFlag) },
    drain: state?.drain,
    intake: state?.intake,
    pending: state?.pending,
    outbox: state?.outbox.length ?? 0,
    // Only a running agent's: a stopped one's may have been granted since.
    refusals: agent ? readRefusals(config.stateDir).map((r) => ({ entity: r.entity, claim: r.claim, reason: r.reason, since: r.since })) : [],
    ...(state?.state === 'drained' ? { hint: DRAINED_HINT } : {}),
    pidDir: config.pidDir,
    workers,
    otherTopics: scan.others.length,
    invalidPidFiles: scan.invalid.map((i) => ({ path: i.path, error: i.error.message })),
  };
  if (values.json) {
    out(`${terminalSafeJson(JSON.stringify(report, null, 2))}\n`);
    return 0;
  }
  const lines = [
    `node        ${report.nodeId}`,
    `topic       ${report.topic}`,
    `state       ${report.state}${report.since ? ` since ${report.since}` : ''}`,
  ];
  if (report.hint) lines.push(`            ${report.hint}`);
  for (const [label, acted] of [['drain', state?.drain], ['intake', state?.intake]] as const) {
    if (!acted) continue;
    lines.push(
      `${label.padEnd(12)}message ${acted.messageId}${acted.message.drainId ? ` (drain ${acted.message.drainId})` : ''}, accepted ${acted.acceptedAt}` +
        `${acted.message.deadline ? `, deadline ${acted.message.deadline}` : ''}${acted.message.reason ? `, reason: ${acted.message.reason}` : ''}`,
    );
  }
  if (state?.pending) lines.push(`pending     ${state.pending.messageId} (${state.pending.phase})`);
  lines.push(
    `agent       ${agent ? `running (pid ${agent.pid})` : 'not running'}`,
    `intake flag ${config.intakeFlag} (${report.intakeFlag.present ? 'present: intake stopped' : 'absent'})`,
    `reports     ${report.outbox} not yet sent`,
    ...report.refusals.map((r) => `refused     ${r.reason} (since ${r.since})`),
    `workers     ${workers.length} in ${config.pidDir}${scan.others.length ? ` (+${scan.others.length} of other topics)` : ''}`,
  );
  for (const w of workers) {
    lines.push(
      `  ${w.workerId.padEnd(20)} pid ${String(w.pid).padEnd(8)} ${w.format.padEnd(7)} ${w.status.padEnd(9)}` +
        ` drain=${w.signals['graceful-downscale'] ?? 'none'} intake=${w.signals['do-not-accept-new-tasks'] ?? 'none'}` +
        `${w.signals.resume ? ` resume=${w.signals.resume}` : ''}` +
        `${'reason' in w ? `  (${w.reason})` : ''}`,
    );
  }
  for (const i of report.invalidPidFiles) lines.push(`  invalid: ${i.path}: ${i.error}`);
  // Every line carries text others wrote (message reason, worker ids, file names): escaped.
  out(`${lines.map(printable).join('\n')}\n`);
  return 0;
}

const DRAINED_HINT = `takes no control messages until reset: run \`${RESET_HINT}\` once its workers are gone`;

/**
 * Re-arms a drained node. Refused (AgentError, exit 1) with the reason while a registered worker
 * lives. With an agent running it asks the agent, as `resume` does.
 */
async function reset({ values }: Flags, env: Env, out: (s: string) => void): Promise<number> {
  const config = parseLocalConfig(env, values);
  const store = new NodeStateStore(config.stateDir);
  const state = store.read();
  const refusal = resetRefusal(state, config);
  if (refusal !== undefined || !state) throw new AgentError('StateTransitionInvalid', `reset refused: ${refusal}`);
  const agent = runningAgent(config.stateDir);
  if (agent) {
    const request = join(config.stateDir, RESET_REQUEST);
    writeFileAtomic(request, JSON.stringify({ at: new Date().toISOString(), pid: process.pid }));
    sendSignal(agent.pid, 'SIGHUP');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (existsSync(request)) continue;
      const now = store.read();
      if (now?.state === 'active') {
        out(`reset: node ${now.nodeId} is active and takes control messages again (agent pid ${agent.pid})\n`);
        return 0;
      }
      throw new AgentError('StateTransitionInvalid', `reset refused by the agent (pid ${agent.pid}): ${resetRefusal(now, config) ?? 'see its log (reset-request)'}`);
    }
    throw new AgentError('Internal', `the agent (pid ${agent.pid}) did not answer the reset within 10 s; see its log`);
  }
  resetDrained(state, config.intakeFlag, new Date(), createLogger(config.logLevel));
  store.save(state);
  out(`reset: node ${state.nodeId} is active (no agent running: it takes control messages when it starts)\n`);
  return 0;
}

/**
 * Undoes an intake stop. With an agent running, it asks the agent (request file + SIGHUP) so
 * that one process owns the state; without one, it edits the state itself and leaves the
 * `resumed` report in the outbox for the agent's next start.
 */
async function resume({ values }: Flags, env: Env, out: (s: string) => void): Promise<number> {
  const config = parseLocalConfig(env, values);
  const store = new NodeStateStore(config.stateDir);
  const state = store.read();
  if (!state || state.state !== 'intake-stopped' || !state.intake) {
    throw new AgentError('StateTransitionInvalid', `nothing to resume: the node is ${state?.state ?? 'active'}; resume undoes an intake stop only`);
  }
  const agent = runningAgent(config.stateDir);
  if (agent) {
    writeFileAtomic(join(config.stateDir, RESUME_REQUEST), JSON.stringify({ at: new Date().toISOString(), pid: process.pid }));
    sendSignal(agent.pid, 'SIGHUP');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      const now = store.read();
      if (now && now.state !== 'intake-stopped') {
        out(`resumed: node ${now.nodeId} is ${now.state} (agent pid ${agent.pid})\n`);
        return 0;
      }
    }
    throw new AgentError('Internal', `the agent (pid ${agent.pid}) did not resume within 10 s; see its log`);
  }
  resumeIntake(state, config.intakeFlag, new Date(), createLogger(config.logLevel));
  store.save(state);
  out(`resumed: node ${state.nodeId} is active (no agent running: the report is sent when it starts)\n`);
  return 0;
}

