// `workforce nodes <topic> [--state S] [--watch]`: every node of a topic, as the fleet inventory
// knows it (GET /api/topics/{topic}/nodes, page after page); stale nodes stand out.

import { apiClient, type ApiClient } from '../api.js';
import { CliError, EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, duration, oneOf, parse } from '../options.js';
import { printable } from '../printable.js';
import { nodeStatus, nodesTable, type NodeJson } from '../render-fleet.js';
import { parseDuration } from '../../domain/durations.js';
import { topicMissing } from './drains.js';

export const NODE_FILTERS = ['active', 'intake-stopped', 'draining', 'drained', 'stale', 'offline'] as const;

export const NODES_HELP = `workforce nodes <topic> [--state S] [--watch] [--interval 2s] [--api URL] [--key KEY] [--json]

Lists every node of <topic> the agents' presence reports made known: its state and for how long,
when it was last seen, the drain it acts on, agent version, host and workers. A node that sent no
heartbeat for three of its intervals is stale (yellow on a terminal, unless NO_COLOR is set);
one that stopped cleanly is offline.

  --state S      only the nodes in state S: ${NODE_FILTERS.join(', ')}
  --watch        redraw every --interval (default 2s) until Ctrl-C
  --json         the nodes as a JSON array (with --watch: one line of JSON per change)
`;

const OPTIONS = { ...API_OPTIONS, state: { type: 'string' }, watch: { type: 'boolean' }, interval: { type: 'string' } } as const;
/** The API's largest page: fewer round trips for a big fleet. */
const PAGE = 1000;

/** Every node, following the continuation tokens; a token the API repeats would loop forever. */
export async function allNodes(api: ApiClient, topic: string, state: string | undefined): Promise<NodeJson[]> {
  const nodes: NodeJson[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ limit: String(PAGE), ...(state !== undefined && { state }), ...(token !== undefined && { continuationToken: token }) });
    const page = (await api.get(`topics/${encodeURIComponent(topic)}/nodes?${query}`)) as { nodes: NodeJson[]; continuationToken?: string };
    nodes.push(...page.nodes);
    token = page.continuationToken || undefined;
    if (token !== undefined && seen.has(token)) throw new CliError(EXIT.refused, `the API answered the same continuation token twice for ${topic}'s nodes; is --api the Workforce app?`);
    if (token !== undefined) seen.add(token);
  } while (token !== undefined);
  return nodes;
}

function summary(topic: string, nodes: NodeJson[], state: string | undefined): string {
  const by = new Map<string, number>();
  for (const n of nodes) {
    const s = n.presence === 'offline' ? 'offline' : n.stale ? 'stale' : n.state;
    by.set(s, (by.get(s) ?? 0) + 1);
  }
  const parts = [...by].map(([s, c]) => `${c} ${s}`).join(', ');
  return `${nodes.length} node${nodes.length === 1 ? '' : 's'} on ${printable(topic)}${state ? ` in state ${state}` : ''}${parts ? `: ${parts}` : ''}\n`;
}

async function emptyNote(api: ApiClient, topic: string, state: string | undefined): Promise<string> {
  if (state !== undefined) return `no ${state} nodes on ${printable(topic)}\n`;
  if (await topicMissing(api, topic)) return `no nodes: topic ${printable(topic)} does not exist (create it with \`workforce topic ensure ${printable(topic)}\`; \`workforce topics\` lists them)\n`;
  return `no nodes on ${printable(topic)}: no agent has reported on it yet (agents listen with WORKFORCE_CONTROL_TOPIC_NAME=${printable(topic)})\n`;
}

export async function nodesCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parse('nodes', args, OPTIONS, ['topic']);
  if (values.help) {
    io.out(NODES_HELP);
    return EXIT.ok;
  }
  const topic = positionals[0]!;
  const state = oneOf('state', values.state, NODE_FILTERS);
  const interval = parseDuration(duration('interval', values.interval) ?? '2s')!;
  const api = apiClient(apiTarget(values, io), io);
  if (!values.watch) {
    const nodes = await allNodes(api, topic, state);
    if (values.json) io.out(`${JSON.stringify(nodes, null, 2)}\n`);
    else io.out(nodes.length === 0 ? await emptyNote(api, topic, state) : `${summary(topic, nodes, state)}${nodesTable(topic, nodes, io.now(), colour(io))}`);
    return EXIT.ok;
  }
  return watchNodes(api, topic, state, io, { json: values.json === true, intervalMs: interval });
}

const colour = (io: Io) => io.isTTY && !io.env.NO_COLOR;

/** What changed, without the times that move on every poll (last seen): a line off a terminal only on change. */
const changeKey = (nodes: NodeJson[]) => JSON.stringify(nodes.map((n) => [n.nodeId, nodeStatus(n), n.drain, n.workerCount, n.workers?.map((w) => [w.pid, w.alive])]));

async function watchNodes(api: ApiClient, topic: string, state: string | undefined, io: Io, opts: { json: boolean; intervalMs: number }): Promise<ExitCode> {
  const off = io.onInterrupt?.(() => io.err('\nstopped watching\n'));
  try {
    let drawn = 0;
    let lastKey = '';
    let misses = 0;
    for (;;) {
      let nodes: NodeJson[];
      try {
        nodes = await allNodes(api, topic, state);
        misses = 0;
      } catch (err) {
        // A host restart mid-watch is survivable; give up after a few polls in a row.
        if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || ++misses > 5) throw err;
        await io.sleep(opts.intervalMs);
        continue;
      }
      const key = changeKey(nodes);
      const now = io.now();
      if (opts.json) {
        if (key !== lastKey) io.out(`${JSON.stringify({ at: new Date(now).toISOString(), nodes })}\n`);
      } else if (io.isTTY) {
        const text = `${summary(topic, nodes, state)}${nodes.length ? nodesTable(topic, nodes, now, colour(io)) : ''}every ${opts.intervalMs / 1000}s · Ctrl-C to stop\n`;
        io.out(`${drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : ''}${text}`);
        drawn = text.split('\n').length - 1;
      } else if (key !== lastKey) {
        io.out(`${new Date(now).toISOString()} ${summary(topic, nodes, state)}${nodes.length ? nodesTable(topic, nodes, now, false) : ''}`);
      }
      lastKey = key;
      await io.sleep(opts.intervalMs);
    }
  } finally {
    off?.();
  }
}
