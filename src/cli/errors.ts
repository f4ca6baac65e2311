// Exit codes and the one error type of the CLI: every failure carries the code it exits with
// and a message that says what to do next.

/** Documented in the README ("CLI"); scripts rely on them, so never renumber. */
export const EXIT = {
  ok: 0,
  /** The drain failed (the orchestration failed or was terminated). */
  failed: 1,
  /** Bad usage: unknown command or flag, missing or invalid value. */
  usage: 2,
  /** The API (or Service Bus, for `send`) could not be reached. */
  unreachable: 3,
  /** The drain timed out: too few nodes reached the target state in time. */
  timedOut: 4,
  /** The drain was cancelled. */
  cancelled: 5,
  /** The API answered with an error (bad key, not found, conflict, misconfigured app…). */
  refused: 6,
  /** The drain completed, but workers were SIGKILLed at its deadline: their tasks may be lost. */
  escalated: 7,
  /** The topic's safety budget refused the drain (409 BudgetExceeded); --force overrides it. */
  budgetExceeded: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** The API's problem+json, when the API refused: commands may render more of it. */
    readonly problem?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, message);

/** Not a failure: `--version` anywhere among a command's flags answers with this text and exit 0. */
export class Answer {
  constructor(readonly text: string) {}
}
