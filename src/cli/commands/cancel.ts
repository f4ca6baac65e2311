// `workforce cancel <drainId>`: withdraws the messages no node took; nodes already draining go on.

import { ApiRefusal, apiClient } from '../api.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, parse, whoami } from '../options.js';

export const CANCEL_HELP = `workforce cancel <drainId> [--reason TEXT] [--requested-by WHO] [--api URL] [--key KEY] [--json]

Cancels a running drain: its messages that no node has taken are withdrawn. Nodes that already
took one keep draining (\`workforce resume <topic> --node ID\` undoes an intake stop, and re-arms
a drained node).
`;

const OPTIONS = { ...API_OPTIONS, reason: { type: 'string' }, 'requested-by': { type: 'string' } } as const;

export async function cancelCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parse('cancel', args, OPTIONS, ['drainId']);
  if (values.help) {
    io.out(CANCEL_HELP);
    return EXIT.ok;
  }
  const drainId = positionals[0]!;
  const body = {
    ...(values.reason !== undefined && { reason: values.reason }),
    requestedBy: values['requested-by'] ?? whoami(io.env),
  };
  const api = apiClient(apiTarget(values, io), io);
  let result: unknown;
  try {
    result = await api.post(`drains/${encodeURIComponent(drainId)}/cancel`, body);
  } catch (err) {
    // A retry that finds the drain ended: an earlier attempt, whose answer was lost, cancelled it.
    if (!(err instanceof ApiRefusal && err.attempts > 1 && err.problem?.code === 'DrainEnded')) throw err;
    const drain = (await api.get(`drains/${encodeURIComponent(drainId)}`)) as { status?: string };
    if (drain.status !== 'cancelled') throw err;
    result = { drainId, cancelled: true };
  }
  io.out(values.json ? `${JSON.stringify(result ?? { drainId, cancelled: true }, null, 2)}\n` : `drain ${drainId}: cancel requested; follow it with \`workforce status ${drainId} --watch\`\n`);
  return EXIT.ok;
}
