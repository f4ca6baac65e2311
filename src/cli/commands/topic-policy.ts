// `workforce topic policy <topic> [--max-unavailable N | N% | --clear]`: a topic's safety budget
// (GET / PUT / DELETE /api/topics/{topic}/policy); without a flag, shows it.

import { apiClient } from '../api.js';
import { EXIT, usageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, maxUnavailable, parse } from '../options.js';
import { pendingNote, type BudgetJson } from '../render-commands.js';
import { printable } from '../printable.js';

export const POLICY_HELP = `workforce topic policy <topic> [--max-unavailable N | N% | --clear] [--api URL] [--key KEY] [--json]

The topic's safety budget: how many of its nodes may be unavailable at once (intake-stopped,
draining, drained or stale, plus the messages of its running drains). A drain that would take
more is refused (exit 8) unless --force; a resume never counts against it. Without a flag:
shows it with today's figures (exit 6 when the topic has none).
  --max-unavailable N   at most N nodes (5), or N% of the online nodes (20%, rounded up)
  --clear               remove it: drains are no longer limited
`;

const OPTIONS = { ...API_OPTIONS, 'max-unavailable': { type: 'string' }, clear: { type: 'boolean' } } as const;

/** GET's answer: the policy, with today's figures (`budget`) when the app has an inventory; PUT's has none. */
interface PolicyJson {
  topic?: string;
  maxUnavailable?: number | string;
  budget?: BudgetJson;
}

function policyText(topic: string, answer: PolicyJson, set: boolean): string {
  const max = printable(String(answer.maxUnavailable ?? '?'));
  const lines = [`topic ${printable(topic)}${set ? ': policy set' : ''}: at most ${max}${max.endsWith('%') ? ' of the online nodes' : ` node${max === '1' ? '' : 's'}`} unavailable at once`];
  const b = answer.budget;
  if (b) lines.push(`  now: online ${b.online ?? '?'}, unavailable ${b.unavailable ?? '?'}${pendingNote(b)}, allowed ${b.allowed ?? '?'}`);
  return `${lines.join('\n')}\n`;
}

export async function policyCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parse('topic policy', args, OPTIONS, ['topic']);
  if (values.help) {
    io.out(POLICY_HELP);
    return EXIT.ok;
  }
  if (values.clear && values['max-unavailable'] !== undefined) throw usageError('--max-unavailable and --clear exclude each other: set the budget or remove it');
  const limit = values['max-unavailable'] !== undefined ? maxUnavailable(values['max-unavailable']) : undefined;
  const topic = positionals[0]!;
  const api = apiClient(apiTarget(values, io), io);
  const route = `topics/${encodeURIComponent(topic)}/policy`;
  const json = (v: unknown) => io.out(`${JSON.stringify(v ?? {}, null, 2)}\n`);
  if (values.clear) {
    const answer = await api.delete(route);
    if (values.json) json(answer ?? { topic, cleared: true });
    else io.out(`topic ${printable(topic)}: policy removed; drains are no longer limited\n`);
    return EXIT.ok;
  }
  const answer = (limit !== undefined ? await api.put(route, { maxUnavailable: limit }) : await api.get(route)) as PolicyJson;
  if (values.json) json(answer);
  else io.out(policyText(topic, { maxUnavailable: limit, ...answer }, limit !== undefined));
  return EXIT.ok;
}
