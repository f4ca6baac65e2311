// A test fleet: the Service Bus emulator, a control topic with its `shutdown` subscription, a
// reports queue, and nodes of real processes (../process-node.ts): agents (the bundle, run from
// outside the repository) with their own PID and state directories and 1–4 real worker processes
// (Node, Python, legacy, or a `workforce-agent run` command that ignores SIGTERM).

import { randomUUID } from 'node:crypto';
import { type ServiceBusClient as Client, type ServiceBusReceivedMessage, ServiceBusClient } from '@azure/service-bus';
import { type EmulatorOptions, type RunningEmulator, startEmulator } from '@workforce/servicebus-emulator';
import Long from 'long';
import { type AgentReport, type PresenceReport, commandsQueueName, isPresenceBody, parseAgentReport, parsePresenceReport, reportSteps } from '../../src/contract/index.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type Artifacts, type Proc, buildArtifacts, killAll, removeTempDirs, sleep, startProcess, tempDir, waitFor } from '../helpers.js';
import { ProcessNode, type WorkerProc } from '../process-node.js';

/** `stubborn`: a `workforce-agent run` command that ignores SIGTERM, with a child in its group. */
export type WorkerKind = 'node' | 'python' | 'legacy' | 'stubborn';

export interface EntityOptions {
  lockDurationMs?: number;
  maxDeliveryCount?: number;
  requiresDuplicateDetection?: boolean;
}

/**
 * Registers the hooks every fleet test file needs (build the artifacts once; after each test,
 * close its clusters and kill what is left) and starts clusters.
 */
export function useClusters(options: { beforeClose?: (cluster: Cluster) => void } = {}) {
  let built: Artifacts | undefined;
  const started: Cluster[] = [];
  beforeAll(async () => {
    built = await buildArtifacts();
  });
  afterEach(async () => {
    for (const cluster of started.splice(0)) {
      options.beforeClose?.(cluster);
      await cluster.close();
    }
    await killAll();
  });
  afterAll(removeTempDirs);
  return {
    get built(): Artifacts {
      if (!built) throw new Error('artifacts are built in beforeAll');
      return built;
    },
    async start(entityOptions: ClusterOptions = {}): Promise<Cluster> {
      const cluster = await Cluster.start(this.built, entityOptions);
      started.push(cluster);
      return cluster;
    },
  };
}

export interface ClusterOptions extends EntityOptions {
  dataDir?: string;
  /**
   * Provision the topic's session-enabled commands queue (as `PUT /api/topics/{topic}` does), with
   * this session lock duration (default 30 s, the control plane's). Without it there is none.
   */
  commands?: { lockDurationMs?: number; requiresDuplicateDetection?: boolean };
  /** More emulator options (a TLS listener, a host, a logger). */
  emulator?: EmulatorOptions;
}

export class Cluster {
  readonly topic = `control-${randomUUID().slice(0, 8)}`;
  readonly reportsQueue = `reports-${randomUUID().slice(0, 8)}`;
  readonly commandsQueue = commandsQueueName(this.topic);
  readonly reports: AgentReport[] = [];
  /** Drain reports as they travelled (one message each, coalesced states in `earlier`). */
  readonly messages: AgentReport[] = [];
  /** Presence reports (online, heartbeat, offline), in arrival order. */
  readonly presence: PresenceReport[] = [];
  readonly nodes: TestNode[] = [];
  client!: Client;
  private stopReports: (() => Promise<void>) | undefined;

  private constructor(
    public emulator: RunningEmulator,
    readonly built: Artifacts,
    private readonly dataDir?: string,
  ) {}

  static async start(built: Artifacts, options: ClusterOptions = {}): Promise<Cluster> {
    // AMQP only unless asked: the agents need nothing else, and a restart on the same port would
    // otherwise bind the default AMQPS and ARM ports (5671, 5443), which parallel test runs share.
    const emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false, ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...options.emulator });
    const cluster = new Cluster(emulator, built, options.dataDir);
    emulator.catalogue.putTopic(cluster.topic, { requiresDuplicateDetection: options.requiresDuplicateDetection ?? false });
    emulator.catalogue.putSubscription(cluster.topic, 'shutdown', {
      lockDurationMs: options.lockDurationMs ?? 30_000,
      maxDeliveryCount: options.maxDeliveryCount ?? 10,
    });
    emulator.catalogue.putQueue(cluster.reportsQueue);
    if (options.commands) {
      emulator.catalogue.putQueue(cluster.commandsQueue, {
        requiresSession: true,
        requiresDuplicateDetection: options.commands.requiresDuplicateDetection ?? true,
        duplicateDetectionHistoryTimeWindowMs: 10 * 60_000,
        lockDurationMs: options.commands.lockDurationMs ?? 30_000,
        maxDeliveryCount: 10,
        deadLetteringOnMessageExpiration: false,
      });
    }
    cluster.connect();
    return cluster;
  }

  private connect(): void {
    this.client = new ServiceBusClient(this.emulator.connectionString, { retryOptions: { maxRetries: 1, retryDelayInMs: 100, timeoutInMs: 5000 } });
    const receiver = this.client.createReceiver(this.reportsQueue, { receiveMode: 'receiveAndDelete' });
    const sub = receiver.subscribe({
      processMessage: async (m) => {
        if (isPresenceBody(m.body)) {
          const presence = parsePresenceReport(m.body);
          if (!presence.ok) throw new Error(`bad presence report: ${presence.error.message}`);
          this.presence.push(presence.value);
          return;
        }
        const parsed = parseAgentReport(m.body);
        if (!parsed.ok) throw new Error(`bad report: ${parsed.error.message}`);
        // A coalesced report is read as its states, as the control plane folds it.
        this.messages.push(parsed.value);
        this.reports.push(...reportSteps(parsed.value));
      },
      processError: async () => {},
    });
    this.stopReports = async () => {
      await sub.close();
      await receiver.close();
    };
  }

  /**
   * Closes the emulator and starts it again on the same port and data: after `downMs`, and, with
   * `downUntil`, not before that holds too (a fixed pause alone races a slow, loaded machine).
   */
  async restartEmulator(downMs: number, downUntil?: () => boolean): Promise<void> {
    const port = this.emulator.port;
    await this.stopReports?.();
    await this.client.close();
    await this.emulator.close();
    await new Promise((r) => setTimeout(r, downMs));
    if (downUntil) await waitFor(downUntil, 60_000, () => 'the condition to hold while the emulator is down');
    this.emulator = await startEmulator({ port, armPort: false, amqpsPort: false, ...(this.dataDir ? { dataDir: this.dataDir } : {}) });
    this.connect();
  }

  /** Publishes bodies in one batch. A string body goes out as raw UTF-8 bytes, as the Python SDK sends it. */
  async publish(messages: Array<{ body: unknown; messageId?: string }>): Promise<void> {
    const sender = this.client.createSender(this.topic);
    try {
      const batch = await sender.createMessageBatch();
      for (const m of messages) {
        const body = typeof m.body === 'string' ? Buffer.from(m.body, 'utf8') : m.body;
        if (!batch.tryAddMessage({ body, contentType: 'application/json', ...(m.messageId ? { messageId: m.messageId } : {}) })) throw new Error('batch full');
      }
      await sender.sendMessages(batch);
    } finally {
      await sender.close();
    }
  }

  /** Sends commands to the commands queue, each to the session its `sessionId` names. */
  async sendCommands(commands: Array<{ sessionId: string; body: unknown; messageId: string; timeToLive?: number }>): Promise<void> {
    const sender = this.client.createSender(this.commandsQueue);
    try {
      await sender.sendMessages(
        commands.map((c) => ({
          body: c.body,
          sessionId: c.sessionId,
          messageId: c.messageId,
          contentType: 'application/json',
          ...(typeof c.body === 'object' && c.body !== null && 'operation' in c.body ? { subject: String(c.body.operation) } : {}),
          ...(c.timeToLive !== undefined ? { timeToLive: c.timeToLive } : {}),
        })),
      );
    } finally {
      await sender.close();
    }
  }

  async commandDeadLetters(): Promise<ServiceBusReceivedMessage[]> {
    const receiver = this.client.createReceiver(this.commandsQueue, { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
    try {
      return await receiver.receiveMessages(100, { maxWaitTimeInMs: 300 });
    } finally {
      await receiver.close();
    }
  }

  /** Messages still in the commands queue (active or deferred, every session). */
  async commandsRemaining(): Promise<ServiceBusReceivedMessage[]> {
    const receiver = this.client.createReceiver(this.commandsQueue);
    try {
      return await receiver.peekMessages(100, { fromSequenceNumber: Long.fromNumber(0) });
    } finally {
      await receiver.close();
    }
  }

  async deadLetters(): Promise<ServiceBusReceivedMessage[]> {
    const receiver = this.client.createReceiver(this.topic, 'shutdown', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
    try {
      return await receiver.receiveMessages(100, { maxWaitTimeInMs: 300 });
    } finally {
      await receiver.close();
    }
  }

  /** Messages still in the subscription (active or deferred). */
  async remaining(): Promise<ServiceBusReceivedMessage[]> {
    const receiver = this.client.createReceiver(this.topic, 'shutdown');
    try {
      return await receiver.peekMessages(100, { fromSequenceNumber: Long.fromNumber(0) });
    } finally {
      await receiver.close();
    }
  }

  async addNode(workers: WorkerKind[], options: { env?: Record<string, string>; tasks?: number; taskMs?: number; workerArgs?: string[] } = {}): Promise<TestNode> {
    const node = new TestNode(this, `node-${this.nodes.length}`, options.env ?? {});
    this.nodes.push(node);
    for (let i = 0; i < (options.tasks ?? 0); i++) node.queue.enqueue(`task-${i}`, options.taskMs ?? 300);
    workers.forEach((kind, i) => node.startWorker(kind, `${node.id}-${kind}-${i}`, options.workerArgs));
    await node.waitRegistered();
    await node.startAgent();
    return node;
  }

  presenceOf(nodeId: string): PresenceReport[] {
    return this.presence.filter((p) => p.nodeId === nodeId);
  }

  reportsOf(state: AgentReport['state']): AgentReport[] {
    return this.reports.filter((r) => r.state === state);
  }

  /** Nodes that reported `drained`, each once. */
  drainedNodes(): string[] {
    return [...new Set(this.reportsOf('drained').map((r) => r.nodeId))].sort();
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.stopReports?.().catch(() => {});
    await this.client.close().catch(() => {});
    await this.emulator.close();
  }
}

/** A node of the cluster: the shared process model, with the cluster's bus and a `run` worker. */
export class TestNode extends ProcessNode {
  constructor(
    readonly cluster: Cluster,
    id: string,
    env: Record<string, string>,
  ) {
    super(cluster.built, id, tempDir('wf-node-'), cluster.topic, () => ({ connectionString: cluster.emulator.connectionString, reportsQueue: cluster.reportsQueue }), {
      WORKFORCE_LOG_LEVEL: 'debug',
      WORKFORCE_RELEASE_BACKOFF_MAX_MS: '1000',
      ...env,
    });
  }

  async startAgent(extra: Record<string, string> = {}): Promise<Proc> {
    const agent = this.spawnAgent(extra);
    await agent.waitForEvent('listening');
    return agent;
  }

  /** Runs a CLI command of the agent against this node's directories. */
  async cli(args: string[]): Promise<{ code: number | null; output: string }> {
    const proc = startProcess(process.execPath, [this.built.agent, ...args], this.agentEnv());
    const { code } = await proc.exited;
    return { code, output: proc.output() };
  }

  override startWorker(kind: WorkerKind, workerId: string, extra: string[] = []): WorkerProc {
    if (kind !== 'stubborn') return super.startWorker(kind, workerId, extra);
    const stubborn = ['run', '--topic', this.topic, '--pid-dir', this.pidDir, '--worker-id', workerId, '--', 'sh', '-c', 'trap "" TERM; sleep 1000 & sleep 1000; wait'];
    return this.addWorker(startProcess(process.execPath, [this.built.agent, ...stubborn]), workerId, kind);
  }
}

/** Restarts a node's agent (without the crash hook) each time it dies, `delayMs` after; SIGKILLs are counted in `crashes`. */
export function supervise(node: TestNode, crashes: string[], delayMs = 0): () => void {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const exit = await node.agent.exited;
      if (stopped) return;
      if (exit.signal === 'SIGKILL') crashes.push(node.id);
      if (delayMs > 0) await sleep(delayMs);
      if (stopped) return;
      await node.startAgent({ WORKFORCE_AGENT_CRASH_AT: '' });
    }
  })();
  return () => {
    stopped = true;
  };
}
