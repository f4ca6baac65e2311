// The agent's two receive loops (listener.ts) on one connection: the `shutdown` subscription
// (any N nodes) and this node's session on the commands queue (commands-session.ts). Whichever
// brought it, one message is handled at a time: there is one node state and one `pending`.

import type { ListenConfig } from '../commands/config.js';
import { type Logger, withFields } from '../common/log.js';
import type { ControlBus } from './bus.js';
import type { Drainer } from './drain.js';
import { Listener } from './listener.js';
import type { Refusals } from './refusals.js';
import { type NodeState, canActOnAnything } from './node-state.js';

export interface ReceiversDeps {
  bus: ControlBus;
  drainer: Drainer;
  state: () => NodeState;
  config: Pick<ListenConfig, 'commandsQueue' | 'nodeId' | 'releaseBackoffMs' | 'topic' | 'subscription'>;
  log: Logger;
  refusals?: Refusals;
}

export class Receivers {
  private readonly control: Listener;
  /** Absent with a bus that has no commands queue (the in-memory bus of the tests). */
  private readonly commands: Listener | undefined;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(deps: ReceiversDeps) {
    const { bus, drainer, state, config, log, refusals } = deps;
    const fromCommands = () => state().pending?.source === 'commands';
    this.control = new Listener({
      bus,
      handle: (m) => this.serially(() => drainer.handle(m)),
      recover: () => this.serially(() => drainer.recover()),
      hasPending: () => state().pending !== undefined && !fromCommands(),
      // A command being handled holds the one `pending`: the next control message waits for it.
      canReceive: () => canActOnAnything(state().state) && !fromCommands(),
      releaseBackoffMs: config.releaseBackoffMs,
      log,
      entity: `subscription '${config.topic}/${config.subscription}'`,
      ...(refusals && { refusals }),
    });
    if (bus.commands) {
      const sessionLog = withFields(log, { receiver: 'commands' });
      const source = bus.commands(config.commandsQueue, config.nodeId, sessionLog);
      this.commands = new Listener({
        bus: source,
        handle: (m) => this.serially(() => drainer.handle(m, 'command', source)),
        recover: () => this.serially(() => drainer.recover(source)),
        hasPending: fromCommands,
        // In every node state: a drained node is resumed by a command.
        canReceive: () => state().pending === undefined || fromCommands(),
        releaseBackoffMs: config.releaseBackoffMs,
        log: sessionLog,
        entity: `queue '${config.commandsQueue}' (session '${config.nodeId}')`,
        ...(refusals && { refusals }),
      });
    }
  }

  /** Whether this agent receives per-node commands. */
  get hasCommands(): boolean {
    return this.commands !== undefined;
  }

  start(): void {
    this.control.start();
    this.commands?.start();
  }

  /** The node state changed: both loops re-evaluate now. */
  wake(): void {
    this.control.wake();
    this.commands?.wake();
  }

  /** Stops both loops; the message in hand is finished first. */
  async close(): Promise<void> {
    await Promise.all([this.control.close(), this.commands?.close()]);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => {});
    return run;
  }
}
