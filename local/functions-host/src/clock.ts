/**
 * Time source for timers, durable timers and orchestration timestamps. The real clock uses
 * the system time; the manual clock only moves when a test advances it.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once the clock reaches `at` (ms since epoch). Returns a cancel function. */
  setTimer(at: number, fn: () => void): () => void;
}

const MAX_DELAY = 2 ** 31 - 1;

export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(at: number, fn: () => void): () => void {
    let handle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      const delay = at - Date.now();
      if (delay > MAX_DELAY) {
        handle = setTimeout(arm, MAX_DELAY);
      } else {
        handle = setTimeout(fn, Math.max(0, delay));
      }
      handle.unref?.();
    };
    arm();
    return () => clearTimeout(handle);
  }
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that tests move by hand: `advance(ms)` or `set(date)` fires every timer that came due, in order. */
export class ManualClock implements Clock {
  #now: number;
  #timers: PendingTimer[] = [];
  #seq = 0;

  constructor(start: Date | number = Date.UTC(2030, 0, 1)) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimer(at: number, fn: () => void): () => void {
    const timer: PendingTimer = { at, seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing due timers (including those they set) in time order. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance(ms) needs a non-negative number of milliseconds, got ${ms}`);
    await this.set(this.#now + ms);
  }

  /** Moves time to `to` (never backwards). */
  async set(to: Date | number): Promise<void> {
    const target = typeof to === 'number' ? to : to.getTime();
    if (target < this.#now) throw new RangeError('ManualClock cannot move backwards');
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      // Let the work a timer started (I/O, promise chains) begin before the next one fires.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#now = target;
  }
}
