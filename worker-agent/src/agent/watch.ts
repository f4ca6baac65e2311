// Watching the PID directory and the workers' processes, without busy polling.
//
// Node has no pidfd_open (a native addon would break the single-file bundle), inotify does not
// work on /proc, and waitpid() only reaps our own children. So:
// - fs.watch (inotify) on the PID directory sees workers register and, on the normal exit path
//   (library or `run` wrapper removing its file), exit: immediately, with no timer.
// - A worker killed without cleanup (SIGKILL, OOM) leaves its file, so while a drain is in
//   progress, and only then, /proc/<pid> is polled with exponential backoff (10 ms doubling to
//   1 s; reset by any directory event). An idle agent runs no timer at all.

import { type FSWatcher, watch } from 'node:fs';
import { ensureDir } from '../common/atomic-file.js';
import type { Logger } from '../common/log.js';

export class PidDirWatcher {
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private restart: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.closed) return;
    try {
      ensureDir(this.dir);
      this.watcher = watch(this.dir, { persistent: false }, () => this.changed());
      this.watcher.on('error', (err) => this.failed(err));
    } catch (err) {
      this.failed(err as Error);
    }
  }

  private changed(): void {
    // A rename-based write produces a burst of events; one rescan serves them all.
    if (this.debounce || this.closed) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.onChange();
    }, 1);
  }

  private failed(err: Error): void {
    this.log.warn('pid-dir-watch-failed', { dir: this.dir, error: err.message, retryInMs: 1000 });
    this.watcher?.close();
    this.watcher = undefined;
    if (!this.closed) this.restart = setTimeout(() => this.start(), 1000);
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearTimeout(this.debounce);
    clearTimeout(this.restart);
  }
}

/** Runs `check` with exponential backoff until it returns true; `poke()` runs it now. */
export class BackoffPoller {
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private active = false;

  constructor(
    private readonly check: () => boolean,
    private readonly minMs = 10,
    private readonly maxMs = 1000,
  ) {
    this.delay = minMs;
  }

  /** Starts polling (if not already) from the shortest delay. */
  start(): void {
    this.active = true;
    this.delay = this.minMs;
    this.arm();
  }

  /** Something changed: check now, and poll fast again. */
  poke(): void {
    if (!this.active) return;
    this.delay = this.minMs;
    this.run();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), this.delay);
  }

  private run(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.active) return;
    if (this.check()) {
      this.stop();
      return;
    }
    this.delay = Math.min(this.delay * 2, this.maxMs);
    this.arm();
  }

  stop(): void {
    this.active = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
