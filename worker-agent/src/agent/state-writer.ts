// Persisting the node state when the disk says no (ENOSPC, EROFS, EIO). Once a message is
// committed on the bus, the agent owns the drain and must finish it (signal, escalate at the
// deadline, report) whatever the disk does: the state in memory is the truth, a failed write is
// logged once per episode and retried with back-off until one succeeds, and nothing throws.
// Before the commit point it is the other way round: a message the agent cannot record is not
// taken (`saveOrThrow`), so a restart can never find a drain it did not know it had accepted.

import type { Logger } from '../common/log.js';
import type { NodeState, NodeStateStore } from './node-state.js';

/** `durable`: fsync the file and its directory (the write that records a commit). */
export interface SaveOptions {
  durable?: boolean;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

export class StateWriter {
  private failingSince: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private closed = false;

  constructor(
    private readonly store: NodeStateStore,
    private readonly state: () => NodeState,
    private readonly log: Logger,
  ) {}

  /** Writes the state now; when that fails, keeps it in memory and retries. Never throws. */
  save(options: SaveOptions = {}): boolean {
    try {
      this.write(options);
      return true;
    } catch {
      return false;
    }
  }

  /** Writes the state now or throws (and retries in the background all the same). */
  saveOrThrow(options: SaveOptions = {}): void {
    this.write(options);
  }

  /** Stops retrying, after one last attempt. */
  close(): boolean {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const saved = this.save();
    this.closed = true;
    return saved;
  }

  private write(options: SaveOptions = {}): void {
    try {
      this.store.save(this.state(), options);
    } catch (err) {
      this.failed(err);
      throw err;
    }
    if (this.failingSince !== undefined) {
      this.log.info('state-saved', { path: this.store.path, failedForMs: Date.now() - this.failingSince });
      this.failingSince = undefined;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryMs = RETRY_MIN_MS;
  }

  private failed(err: unknown): void {
    if (this.failingSince === undefined) {
      this.failingSince = Date.now();
      this.log.error('state-not-saved', {
        path: this.store.path,
        error: err instanceof Error ? err.message : String(err),
        retryInMs: this.retryMs,
        note: 'acting from memory; retrying until a write succeeds',
      });
    }
    if (this.retryTimer || this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.save();
    }, delay);
  }
}
