// `workforce drains [--topic T] [--status S]`: the drains, newest first.

import { apiClient, type ApiClient } from '../api.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, oneOf, parse } from '../options.js';
import { drainsTable } from '../render.js';

export const DRAINS_HELP = `workforce drains [--topic T] [--status running|completed|timed-out|cancelled|failed] [--api URL] [--key KEY] [--json]

Lists drains, newest first.
`;

const STATUSES = ['running', 'completed', 'timed-out', 'cancelled', 'failed'] as const;
const OPTIONS = { ...API_OPTIONS, topic: { type: 'string' }, status: { type: 'string' } } as const;

export async function drainsCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values } = parse('drains', args, OPTIONS, []);
  if (values.help) {
    io.out(DRAINS_HELP);
    return EXIT.ok;
  }
  const status = oneOf('status', values.status, STATUSES);
  const query = new URLSearchParams({ ...(values.topic !== undefined && { topic: values.topic }), ...(status !== undefined && { status }) }).toString();
  const api = apiClient(apiTarget(values, io), io);
  const { drains } = await api.get(`drains${query ? `?${query}` : ''}`);
  if (values.json) io.out(`${JSON.stringify(drains, null, 2)}\n`);
  else if (drains.length === 0 && values.topic !== undefined && (await topicMissing(api, values.topic))) {
    io.out(`no drains: topic ${values.topic} does not exist (create it with \`workforce topic ensure ${values.topic}\`; \`workforce drains\` lists every topic's)\n`);
  } else io.out(drainsTable(drains));
  return EXIT.ok;
}

/** A typo in --topic should not read as "no drains yet"; unknown when the app cannot list topics. */
export async function topicMissing(api: ApiClient, topic: string): Promise<boolean> {
  try {
    const { topics } = (await api.get('topics')) as { topics: Array<{ name: string }> };
    return !topics.some((t) => t.name.toLowerCase() === topic.toLowerCase()); // entity names ignore case
  } catch {
    return false;
  }
}
