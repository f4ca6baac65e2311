// `workforce topics`: every topic with its nodes by state (the fleet inventory) and its running drains.

import { apiClient } from '../api.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, parse } from '../options.js';
import { topicsTable, type TopicJson } from '../render-fleet.js';

export const TOPICS_HELP = `workforce topics [--api URL] [--key KEY] [--json]

Lists the topics (GET /api/topics) with their nodes by state, as the agents' presence reports
tell them (active, intake-stopped, draining, drained; stale: no heartbeat for three intervals;
offline: stopped cleanly), its safety budget (unavailable/allowed, see workforce topic policy),
the drains running on each, and the newest scheduled run its budget skipped. The nodes of one
topic: workforce nodes <topic>.
`;

export async function topicsCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values } = parse('topics', args, API_OPTIONS, []);
  if (values.help) {
    io.out(TOPICS_HELP);
    return EXIT.ok;
  }
  const { topics } = (await apiClient(apiTarget(values, io), io).get('topics')) as { topics: TopicJson[] };
  io.out(values.json ? `${JSON.stringify(topics, null, 2)}\n` : topicsTable(topics));
  return EXIT.ok;
}
