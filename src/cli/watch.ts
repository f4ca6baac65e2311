// `--wait` / `--watch`: polls the drain until it ends, redrawing the progress block in place on a
// terminal and printing one line per change otherwise; the exit code says how it ended.

import type { ApiClient } from './api.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import type { Io } from './io.js';
import { progressBlock, summaryLine, type DrainJson, type WorkerJson } from './render.js';
import { printable } from './printable.js';

/** How an ended drain exits: a completion with workers SIGKILLed at the deadline is not plain success. */
export function exitCodeOf(d: DrainJson): ExitCode {
  switch (d.status) {
    case 'completed':
      return (d.counts?.escalated ?? 0) > 0 ? EXIT.escalated : EXIT.ok;
    case 'timed-out':
      return EXIT.timedOut;
    case 'cancelled':
      return EXIT.cancelled;
    default:
      return EXIT.failed;
  }
}

/** Each node's workers (GET /api/drains/{id}/workers); nothing when the app lacks the route. */
async function workersOf(api: ApiClient, drainId: string): Promise<Map<string, WorkerJson[]> | undefined> {
  try {
    const { nodes } = (await api.get(`drains/${encodeURIComponent(drainId)}/workers`)) as { nodes: Array<{ nodeId: string; workers: WorkerJson[] }> };
    return new Map(nodes.map((n) => [n.nodeId, n.workers]));
  } catch {
    return undefined;
  }
}

/** One line of what changed, for logs and pipes (no countdown, so it prints only on change). */
const changeKey = (d: DrainJson) => JSON.stringify([d.status, d.counts, d.unfinished, d.nodes?.map((n) => [n.nodeId, n.state]), d.hint]);

export async function watchDrain(api: ApiClient, drainId: string, io: Io, opts: { json: boolean; intervalMs: number }): Promise<ExitCode> {
  // Ctrl-C stops watching, not the drain: say so, and how to pick it up again.
  const off = io.onInterrupt?.(() => io.err(`\nstopped watching; drain ${drainId} goes on — follow it: workforce status ${drainId} --watch · stop it: workforce cancel ${drainId}\n`));
  try {
    return await follow(api, drainId, io, opts);
  } finally {
    off?.();
  }
}

async function follow(api: ApiClient, drainId: string, io: Io, opts: { json: boolean; intervalMs: number }): Promise<ExitCode> {
  let drawn = 0;
  let lastKey = '';
  let misses = 0;
  for (;;) {
    let d: DrainJson;
    try {
      d = await api.get(`drains/${encodeURIComponent(drainId)}`);
      misses = 0;
    } catch (err) {
      // A host restart mid-watch is survivable; give up after a few polls in a row.
      if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || ++misses > 5) throw err;
      await io.sleep(opts.intervalMs);
      continue;
    }
    const ended = d.status !== 'running';
    if (opts.json) {
      if (ended) io.out(`${JSON.stringify(d, null, 2)}\n`);
    } else if (io.isTTY) {
      const lines = progressBlock(d, io.now(), ended ? undefined : await workersOf(api, drainId));
      io.out(`${drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : ''}${lines.join('\n')}\n`);
      drawn = lines.length;
    } else {
      const key = changeKey(d);
      if (key !== lastKey) io.out(`${new Date(io.now()).toISOString()} ${summaryLine(d, io.now())}\n${!ended && d.hint ? `  hint: ${printable(d.hint)}\n` : ''}`);
      lastKey = key;
      // The last change line already holds the counts: add only the rest of the block.
      const rest = progressBlock(d, io.now()).slice(2);
      if (ended && rest.length > 0) io.out(`${rest.join('\n')}\n`);
    }
    if (ended) return exitCodeOf(d);
    await io.sleep(opts.intervalMs);
  }
}
