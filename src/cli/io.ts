// What a command may touch of the outside world, passed in so tests run commands in-process.

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** stdout is a terminal: redraw the progress display in place. */
  isTTY: boolean;
  /** Resolves after ms, or early when the command is interrupted. */
  sleep(ms: number): Promise<void>;
  now(): number;
  /** Runs `handler` on Ctrl-C instead of dying silently (the process exits after it). */
  onInterrupt?(handler: () => void): () => void;
}

export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    now: () => Date.now(),
    onInterrupt: (handler) => {
      const h = () => {
        handler();
        process.exit(130); // 128 + SIGINT, as a shell reports it
      };
      process.once('SIGINT', h);
      return () => process.off('SIGINT', h);
    },
  };
}
