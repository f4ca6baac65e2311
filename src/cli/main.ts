// The `workforce` CLI: parse the command, run it, turn every failure into a message that says
// what to do next and a documented exit code (errors.ts).

import { cancelCommand } from './commands/cancel.js';
import { drainCommand } from './commands/drain.js';
import { drainsCommand } from './commands/drains.js';
import { sendCommand } from './commands/send.js';
import { statusCommand } from './commands/status.js';
import { topicCommand } from './commands/topic.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import type { Io } from './io.js';

export const HELP = `workforce — drain batch worker nodes gracefully

  workforce topic ensure <topic>                      provision a control topic
  workforce drain <topic> --count N [--wait] …        drain N nodes (see workforce drain --help)
  workforce drains [--topic T] [--status S]           list drains
  workforce status <drainId> [--watch]                show / follow a drain
  workforce cancel <drainId>                          cancel a drain
  workforce send <topic> --operation OP --count N     publish straight to Service Bus

The API: --api URL (or WORKFORCE_API_URL; default http://localhost:7071, the app \`npm start\` runs)
         --key KEY (or WORKFORCE_API_KEY; the function key)
Every command takes --json (machine-readable output on stdout) and --help.

Exit codes: 0 ok (a followed drain completed) · 1 the drain failed · 2 bad usage
            3 API or Service Bus unreachable · 4 the drain timed out · 5 the drain was cancelled
            6 the API refused the request (key, not found, conflict, invalid field…)
            130 Ctrl-C while following a drain (the drain goes on)
`;

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<ExitCode>> = {
  topic: topicCommand,
  drain: drainCommand,
  drains: drainsCommand,
  status: statusCommand,
  cancel: cancelCommand,
  send: sendCommand,
};

export async function run(argv: string[], io: Io): Promise<ExitCode> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const handler = COMMANDS[command];
  try {
    if (!handler) throw new CliError(EXIT.usage, `unknown command "${command}"; the commands are ${Object.keys(COMMANDS).join(', ')} (workforce --help)`);
    return await handler(args, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`workforce: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`workforce: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.failed;
  }
}
