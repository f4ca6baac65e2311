// The `workforce` CLI: parse the command, run it, turn every failure into a message that says
// what to do next and a documented exit code (errors.ts).

import { Answer, CliError, EXIT, type ExitCode } from './errors.js';
import type { Io } from './io.js';
import { versionLine } from './version.js';

export const HELP = `workforce — drain batch worker nodes gracefully

  workforce topic ensure <topic>                      provision a control topic
  workforce topic policy <topic> [--max-unavailable 20% | --clear]
                                                      show / set / clear its safety budget
  workforce drain <topic> --count N [--wait] …        drain N nodes (see workforce drain --help)
  workforce drain <topic> --node ID … [--intake-stop]  drain the nodes you name
            [--dry-run] [--force]                     (--dry-run: the plan, nothing sent)
  workforce resume <topic> (--node ID … | --all)      undo an intake stop, re-arm a drained node
  workforce drains [--topic T] [--status S]           list drains
  workforce status <drainId> [--watch]                show / follow a drain
  workforce cancel <drainId>                          cancel a drain
  workforce topics                                    topics with their nodes by state and running drains
  workforce nodes <topic> [--state S] [--watch]       a topic's nodes: state, last seen, workers
  workforce send <topic> --operation OP --count N     publish straight to Service Bus

The API: --api URL (or WORKFORCE_API_URL; default http://localhost:7071, the app \`npm start\` runs)
         --key KEY (or WORKFORCE_API_KEY; the function key)
         --timeout D (or WORKFORCE_API_TIMEOUT; default 30s): each attempt of a request; a
         timeout, a dropped connection or a 408/429/502/503/504 is retried (4 attempts in all)
Every command takes --json (machine-readable output on stdout), --help and --version.
workforce help <command> is workforce <command> --help.

Exit codes: 0 ok (a followed drain completed) · 1 the drain failed · 2 bad usage
            3 API or Service Bus unreachable · 4 the drain timed out (or a named node refused) · 5 cancelled
            6 the API refused the request (key, not found, conflict, invalid field…)
            7 the drain completed, but workers were SIGKILLed at its deadline (tasks may be lost)
            8 the topic's safety budget refused the drain (its figures are shown; --force overrides)
            130 Ctrl-C while following a drain (the drain goes on) or watching nodes
`;

type Command = (args: string[], io: Io) => Promise<ExitCode>;

// Loaded on use: `send` alone needs the Service Bus SDK, and `--help` needs no command at all.
const COMMANDS: Record<string, () => Promise<Command>> = {
  topic: async () => (await import('./commands/topic.js')).topicCommand,
  drain: async () => (await import('./commands/drain.js')).drainCommand,
  resume: async () => (await import('./commands/resume.js')).resumeCommand,
  drains: async () => (await import('./commands/drains.js')).drainsCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  cancel: async () => (await import('./commands/cancel.js')).cancelCommand,
  topics: async () => (await import('./commands/topics.js')).topicsCommand,
  nodes: async () => (await import('./commands/nodes.js')).nodesCommand,
  send: async () => (await import('./commands/send.js')).sendCommand,
};

export async function run(argv: string[], io: Io): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || (first === 'help' && rest.length === 0)) {
    io.out(HELP);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    io.out(versionLine());
    return EXIT.ok;
  }
  const [command, args] = first === 'help' ? [rest[0]!, ['--help']] : [first, rest];
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  try {
    if (!load) throw new CliError(EXIT.usage, `unknown command "${command}"; the commands are ${Object.keys(COMMANDS).join(', ')} (workforce --help)`);
    return await (await load())(args, io);
  } catch (err) {
    if (err instanceof Answer) {
      io.out(err.text);
      return EXIT.ok;
    }
    if (err instanceof CliError) {
      io.err(`workforce: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`workforce: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.failed;
  }
}
