// The chaos fleet: nodes of real processes, the agent package's model (ProcessNode in
// worker-agent/test/process-node.ts): per node a PID, state and task-queue directory and 1–2
// example workers (Node, Python, legacy Python) taking tasks of known duration from its queue.
// Here the agent (the shipped bundle) reaches the emulator through the node's own proxy, and a
// supervisor restarts it each time it dies (kill -9, crash-point hook).
import { mkdirSync } from 'node:fs';
import { defaultIntakeFlagPath } from '../../worker-agent/src/common/defaults.js';
import type { Artifacts, ExampleWorkerKind } from '../../worker-agent/test/helpers.js';
import { ProcessNode, type WorkerProc } from '../../worker-agent/test/process-node.js';
import type { ChaosProxy } from './proxy.js';

export type WorkerKind = ExampleWorkerKind;
export type { WorkerProc };

/** The emulator's connection string with the port of a proxy in front of it. */
export function viaProxy(connectionString: string, port: number): string {
  return connectionString.replace(/(Endpoint=sb:\/\/[^:;/]+:)\d+/, `$1${port}`);
}

export class ChaosNode extends ProcessNode {
  /** The intake flag the agent writes and the library workers read (both default to it). */
  readonly intakeFlag: string;
  /** Agent deaths by SIGKILL (ours or the crash hook's). */
  kills = 0;
  private supervised = false;

  constructor(
    id: string,
    dir: string,
    topic: string,
    reportsQueue: string,
    readonly proxy: ChaosProxy,
    artifacts: Artifacts,
    connectionString: () => string,
  ) {
    super(artifacts, id, dir, topic, () => ({ connectionString: viaProxy(connectionString(), proxy.port), reportsQueue }));
    this.intakeFlag = defaultIntakeFlagPath(this.pidDir, topic);
    mkdirSync(this.pidDir, { recursive: true });
  }

  /** Starts the agent and keeps it running: each time it dies, it is started again after `restartDelayMs()`. */
  async startAgent(crashAt: string, restartDelayMs: () => number): Promise<void> {
    this.supervised = true;
    this.spawnAgent({ WORKFORCE_AGENT_CRASH_AT: crashAt });
    void this.supervise(restartDelayMs);
    await this.agent.waitForEvent('listening', undefined, 60_000);
  }

  private async supervise(restartDelayMs: () => number): Promise<void> {
    while (this.supervised) {
      const exit = await this.agent.exited;
      if (!this.supervised) return;
      if (exit.signal === 'SIGKILL') this.kills++;
      await new Promise((r) => setTimeout(r, restartDelayMs()));
      if (!this.supervised) return;
      this.spawnAgent(); // without the crash hook: it fires once per node
    }
  }

  /** The current agent is alive and listening (it finished its start-up recovery). */
  agentListening(): boolean {
    const a = this.agents.at(-1);
    return !!a && a.child.exitCode === null && a.child.signalCode === null && a.events().some((e) => e['event'] === 'listening');
  }

  killAgent(): void {
    this.agents.at(-1)?.kill('SIGKILL');
  }

  /** Ends supervision and kills the agent (its workers stay): frees its commands session for a look at what is left in it. */
  async stopAgent(): Promise<void> {
    this.supervised = false;
    const agent = this.agents.at(-1);
    agent?.kill('SIGKILL');
    await agent?.exited;
  }

  override async stop(): Promise<void> {
    this.supervised = false;
    await super.stop();
  }
}
