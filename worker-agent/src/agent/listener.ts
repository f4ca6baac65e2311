// The receive loop: one message at a time, in peek-lock mode (the lock is renewed while the
// message is handled). It never spins:
// - a message this node cannot act on is abandoned, so another node gets it at once, and this
//   agent then stops receiving for a while (1 s doubling to the configured maximum), so one
//   message does not bounce off the same node in a hot loop;
// - a draining or drained node can act on nothing, so it does not receive at all;
// - Service Bus errors (an outage) back off from 100 ms to 5 s; the client reconnects. The log
//   says when the bus first answered (`bus-connected`), the first error (`bus-error`), each
//   retry (`bus-retry`) and the first answer after an outage (`bus-reconnected`).

import type { BusMessage, MessageSource } from './bus.js';
import type { Outcome } from './drain.js';
import type { Logger } from '../common/log.js';
import { errorText, REFUSED_RETRY_MS, type Refusals } from './refusals.js';

export interface ListenerDeps {
  /** The `shutdown` subscription, or this node's commands session. */
  bus: Pick<MessageSource, 'receiveOne'>;
  handle: (message: BusMessage) => Promise<Outcome>;
  /** Resolves a pending message (after a crash or a failed settlement) before receiving. */
  recover: () => Promise<void>;
  hasPending: () => boolean;
  canReceive: () => boolean;
  releaseBackoffMs: { min: number; max: number };
  log: Logger;
  /** What it receives from, for a refusal: "subscription 'eu-west/shutdown'". */
  entity?: string;
  /** A refusal for want of a right is logged there, once, instead of as a bus error. */
  refusals?: Refusals;
}

const ERROR_MIN_MS = 100;
const ERROR_MAX_MS = 5000;

export class Listener {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private releaseMs = 0;
  private errorMs = ERROR_MIN_MS;
  /** `starting` until the bus first answers; then failed receives since the last answer, and when the first failed. */
  private link: 'starting' | 'up' | { failures: number; since: number } = 'starting';

  constructor(private readonly deps: ListenerDeps) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Something changed (resume, SIGHUP): re-evaluate now instead of after a pause. */
  wake(): void {
    this.releaseMs = 0;
    this.wakeUp?.();
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const { bus, log } = this.deps;
    while (!this.closed) {
      try {
        if (this.deps.hasPending()) {
          await this.deps.recover();
          this.healthy();
          continue;
        }
        if (!this.deps.canReceive()) {
          await this.pause(undefined);
          continue;
        }
        // On close, stop waiting at once: the SDK may not honour the abort while its link is
        // still opening. A message arriving just then stays locked, untouched, and comes back.
        const message = await untilAborted(bus.receiveOne(this.abort.signal), this.abort.signal);
        if (this.closed) break;
        this.healthy();
        if (message === undefined) continue;
        const outcome = await this.deps.handle(message);
        if (outcome === 'released') {
          this.releaseMs = this.releaseMs === 0 ? this.deps.releaseBackoffMs.min : Math.min(this.releaseMs * 2, this.deps.releaseBackoffMs.max);
          log.debug('receive-paused', { ms: this.releaseMs });
          await this.pause(this.releaseMs);
        } else {
          this.releaseMs = 0;
        }
      } catch (err) {
        if (this.closed) break;
        const error = errorText(err);
        if (this.deps.refusals?.noted(err, this.deps.entity ?? 'Service Bus')) {
          // Logged once; asked again at a pace a role assignment can keep up with.
          if (typeof this.link !== 'object') this.link = { failures: 0, since: Date.now() };
          this.link.failures++;
          log.debug('bus-retry', { attempt: this.link.failures, error, retryInMs: REFUSED_RETRY_MS });
          await this.pause(REFUSED_RETRY_MS);
          continue;
        }
        if (typeof this.link === 'object') {
          this.link.failures++;
          log.info('bus-retry', { attempt: this.link.failures, error, retryInMs: this.errorMs });
        } else {
          this.link = { failures: 1, since: Date.now() };
          log.warn('bus-error', { error, retryInMs: this.errorMs });
        }
        await this.pause(this.errorMs);
        this.errorMs = Math.min(this.errorMs * 2, ERROR_MAX_MS);
      }
    }
  }

  private healthy(): void {
    if (this.deps.entity !== undefined) this.deps.refusals?.answered(this.deps.entity);
    if (this.link === 'starting') this.deps.log.info('bus-connected');
    else if (this.link !== 'up') this.deps.log.info('bus-reconnected', { failedAttempts: this.link.failures, outageMs: Date.now() - this.link.since });
    this.link = 'up';
    this.errorMs = ERROR_MIN_MS;
  }

  /** Waits `ms` (forever if undefined) or until wake()/close(). */
  private pause(ms: number | undefined): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve(undefined);
        else reject(err);
      },
    );
  });
}
