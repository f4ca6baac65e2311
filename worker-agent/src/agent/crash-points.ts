// Test hook: `WORKFORCE_AGENT_CRASH_AT=<point>` makes the agent SIGKILL itself at that point of
// handling a control message or a per-node command, so tests can prove that a crash at any step
// neither acts twice nor loses the message. Read once at start-up (config); never set it in production.

export const CRASH_POINTS = [
  /** Message received and validated; nothing persisted. */
  'after-receive',
  /** Node state written with the message pending (`accepting`); not yet settled on the bus. */
  'after-state-write',
  /** Message deferred on the bus with this node as owner (the commit); nothing more persisted. */
  'after-defer',
  /** Workers signalled; not persisted yet (the local state still says `accepting`). */
  'after-signal',
  /** Commit, new node state and signalled workers persisted; the message not yet completed. */
  'after-commit-write',
  /** Deferred message completed on the bus; that fact not persisted yet. */
  'after-complete',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export function isCrashPoint(value: unknown): value is CrashPoint {
  return typeof value === 'string' && (CRASH_POINTS as readonly string[]).includes(value);
}

/** SIGKILL this process if `point` is the configured one: no cleanup, no flush, like `kill -9`. */
export function crashPoint(configured: CrashPoint | undefined, point: CrashPoint): void {
  if (configured === point) process.kill(process.pid, 'SIGKILL');
}
