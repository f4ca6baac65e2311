// `workforce status <drainId> [--watch]`: one drain, once or until it ends.

import { apiClient } from '../api.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, parse } from '../options.js';
import { progressBlock } from '../render.js';
import { exitCodeOf, watchDrain } from '../watch.js';
import { intervalMs } from './drain.js';

export const STATUS_HELP = `workforce status <drainId> [--watch] [--interval 1s] [--api URL] [--key KEY] [--json]

Shows a drain: counts, deadline, the nodes still draining and for how long. With --watch, follows
it until it ends. The exit code is the drain's once it ended (0 completed, 7 completed but
workers were SIGKILLed at the deadline, 4 timed out, 5 cancelled, 1 failed); 0 while it is still
running without --watch.
`;

const OPTIONS = { ...API_OPTIONS, watch: { type: 'boolean' }, interval: { type: 'string' } } as const;

export async function statusCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parse('status', args, OPTIONS, ['drainId']);
  if (values.help) {
    io.out(STATUS_HELP);
    return EXIT.ok;
  }
  const interval = intervalMs(values.interval);
  const api = apiClient(apiTarget(values, io), io);
  const drainId = positionals[0]!;
  if (values.watch) return watchDrain(api, drainId, io, { json: values.json === true, intervalMs: interval });
  const d = await api.get(`drains/${encodeURIComponent(drainId)}`);
  io.out(values.json ? `${JSON.stringify(d, null, 2)}\n` : `${progressBlock(d, io.now()).join('\n')}\n`);
  return d.status === 'running' ? EXIT.ok : exitCodeOf(d);
}
