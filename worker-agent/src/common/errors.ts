// One error type for the agent: a stable code and a message a person can act on.
// `unknown` is normalised once, where it is caught.

export type AgentErrorCode =
  | 'ConfigInvalid'
  | 'AgentAlreadyRunning'
  | 'StateCorrupt'
  | 'StateTransitionInvalid'
  | 'PidFileInvalid'
  | 'DirectoryUnsafe'
  | 'SignalFailed'
  | 'SpawnFailed'
  | 'BusUnavailable'
  | 'Internal';

export class AgentError extends Error {
  override readonly name = 'AgentError';
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function toAgentError(err: unknown, code: AgentErrorCode = 'Internal'): AgentError {
  if (err instanceof AgentError) return err;
  if (err instanceof Error) return new AgentError(code, err.message, { cause: err });
  return new AgentError(code, String(err));
}

/** The `code` of a Node system error (`ENOENT`, `ESRCH`, …), if any. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
