// `workforce topic ensure <topic>`: provisions the topic, its subscription and the reports queue.
// `workforce topic policy <topic>`: shows, sets or clears its safety budget (topic-policy.ts).

import { apiClient } from '../api.js';
import { Answer, EXIT, usageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, parse } from '../options.js';
import { versionLine } from '../version.js';
import { POLICY_HELP, policyCommand } from './topic-policy.js';

export const ENSURE_HELP = `workforce topic ensure <topic> [--api URL] [--key KEY] [--json]

Creates the control topic, its "shutdown" subscription, the reports queue and the commands
queue when they are missing (PUT /api/topics/<topic>). Safe to repeat: existing entities are
left as they are and settings that differ from Workforce's are listed.
`;

export const TOPIC_HELP = `${ENSURE_HELP}\n${POLICY_HELP}`;

interface Entity {
  kind: string;
  name: string;
  outcome: string;
  differences?: string[];
}

export async function topicCommand(args: string[], io: Io): Promise<ExitCode> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.out(TOPIC_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub === '--version') throw new Answer(versionLine());
  if (sub === 'policy') return policyCommand(rest, io);
  if (sub !== 'ensure') throw usageError(`topic: unknown subcommand "${sub}"; the subcommands are \`workforce topic ensure <topic>\` and \`workforce topic policy <topic>\``);
  const { values, positionals } = parse('topic ensure', rest, API_OPTIONS, ['topic']);
  if (values.help) {
    io.out(ENSURE_HELP);
    return EXIT.ok;
  }
  const topic = positionals[0]!;
  const result = await apiClient(apiTarget(values, io), io).put(`topics/${encodeURIComponent(topic)}`);
  if (values.json) {
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT.ok;
  }
  for (const e of (result?.entities ?? []) as Entity[]) {
    const diff = e.differences?.length ? ` (left as it is: ${e.differences.join('; ')})` : '';
    io.out(`${e.kind.padEnd(13)} ${e.name.padEnd(30)} ${e.outcome}${diff}\n`);
  }
  io.out(`topic ${topic} is ready: agents listen with WORKFORCE_CONTROL_TOPIC_NAME=${topic}\n`);
  return EXIT.ok;
}
