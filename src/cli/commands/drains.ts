// `workforce drains [--topic T] [--status S]`: the drains, newest first.

import { apiClient } from '../api.js';
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
  const { drains } = await apiClient(apiTarget(values, io)).get(`drains${query ? `?${query}` : ''}`);
  io.out(values.json ? `${JSON.stringify(drains, null, 2)}\n` : drainsTable(drains));
  return EXIT.ok;
}
