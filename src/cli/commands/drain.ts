// `workforce drain <topic> --count N …`: starts a drain through the API; with --wait, follows it.

import { OPERATIONS } from '@workforce/worker-agent/contract';
import { parseDuration } from '../../domain/durations.js';
import { apiClient } from '../api.js';
import { EXIT, usageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, count, duration, isInstant, nodeIds, oneOf, parse, relativeOrInstant, whoami } from '../options.js';
import { nodeList, startDrain } from '../start-drain.js';

export const DRAIN_HELP = `workforce drain <topic> (--count N | --node ID …) [options]

Asks nodes listening on <topic> to drain (POST /api/topics/<topic>/drains): any N of them
(--count, one control message each), or the nodes you name (--node, one command each, which
only that node takes).

  --count N             how many nodes, any of them
  --node ID             this node (repeat it: --node a --node b; at most 1000); an id the fleet
                        inventory has never seen is refused (a typo guard) unless --force
  --mode M              graceful-downscale (default): finish the current task and exit
                        do-not-accept-new-tasks: stop taking tasks, keep running
  --intake-stop         the same as --mode do-not-accept-new-tasks (undo it: workforce resume)
  --deadline D          kill what is left after D (e.g. 2h) or at an ISO instant
                        (graceful-downscale only; without it workers may take as long as they need)
  --not-after D         a node that has not taken a message after D (default 15m, or the
                        deadline when that is sooner) or the ISO instant leaves it
  --reason TEXT         why, shown to everyone watching
  --requested-by WHO    who asks (default: user@host)
  --drain-id ID         your own id (letters, digits, . - _); a repeat is refused. Without
                        it the CLI picks a UUID, so its retries cannot start two drains
  --dry-run             show what would be sent (messages, expiry, the nodes by state, the
                        safety budget's verdict, named nodes offline or stale) and send nothing
  --force               drain even if the topic's safety budget refuses it (exit 8 without it),
                        and send to node ids the inventory does not know; recorded in the drain
  --wait                follow the drain until it ends; exit code says how (see workforce --help)
  --interval D          how often --wait polls (default 1s)
  --api URL --key KEY --timeout D --json
`;

const OPTIONS = {
  ...API_OPTIONS,
  count: { type: 'string' },
  node: { type: 'string', multiple: true },
  mode: { type: 'string' },
  'intake-stop': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  deadline: { type: 'string' },
  'not-after': { type: 'string' },
  reason: { type: 'string' },
  'requested-by': { type: 'string' },
  'drain-id': { type: 'string' },
  wait: { type: 'boolean' },
  interval: { type: 'string' },
} as const;

/** The instant a --deadline / --not-after value (duration from now or ISO instant) stands for. */
function instantOf(value: string, now: number): number {
  return isInstant(value) ? Date.parse(value) : now + parseDuration(value)!;
}

export function intervalMs(value: string | undefined): number {
  return parseDuration(duration('interval', value) ?? '1s')!;
}

export async function drainCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parse('drain', args, OPTIONS, ['topic']);
  if (values.help) {
    io.out(DRAIN_HELP);
    return EXIT.ok;
  }
  const topic = positionals[0]!;
  const nodes = nodeIds(values.node);
  if (nodes !== undefined && values.count !== undefined) throw usageError('--count and --node exclude each other: drain any N nodes (--count N) or the nodes you name (--node ID …)');
  if (nodes === undefined && values.count === undefined) throw usageError('--count or --node is required: how many nodes (--count 2), or which (--node ID, repeated)');
  if (values['intake-stop'] && values.mode !== undefined && values.mode !== 'do-not-accept-new-tasks') {
    throw usageError(`--intake-stop is --mode do-not-accept-new-tasks; it contradicts --mode ${values.mode}`);
  }
  if (values['dry-run'] && values.wait) throw usageError('--dry-run sends nothing, so --wait has no drain to follow; leave one out');
  const mode = values['intake-stop'] ? 'do-not-accept-new-tasks' : oneOf('mode', values.mode, OPERATIONS);
  if (values.deadline !== undefined && mode === 'do-not-accept-new-tasks') {
    throw usageError('--deadline applies to graceful-downscale only: a node that stops taking tasks keeps running');
  }
  const deadline = relativeOrInstant('deadline', values.deadline, 'gracePeriod', 'deadline');
  const notAfter = relativeOrInstant('not-after', values['not-after'], 'ackTimeout', 'notAfter');
  // Without --not-after the API takes 15m or the deadline, whichever is sooner.
  if (values.deadline !== undefined && values['not-after'] !== undefined && instantOf(values['not-after'], io.now()) > instantOf(values.deadline, io.now())) {
    throw usageError(`--not-after ${values['not-after']} ends after --deadline ${values.deadline}: a node could take the drain when it is already over; give a --not-after no later than the --deadline, or leave it out`);
  }
  const target = nodes !== undefined ? { nodes } : { count: count('count', values.count) };
  const body = {
    ...target,
    ...(mode !== undefined && { mode }),
    ...deadline,
    ...notAfter,
    ...(values.reason !== undefined && { reason: values.reason }),
    requestedBy: values['requested-by'] ?? whoami(io.env),
    ...(values['drain-id'] !== undefined && { drainId: values['drain-id'] }),
    ...(values.force && { force: true }),
    ...(values['dry-run'] && { dryRun: true }),
  };
  const interval = intervalMs(values.interval);
  const operation = mode ?? 'graceful-downscale';
  return startDrain({
    api: apiClient(apiTarget(values, io), io),
    route: `topics/${encodeURIComponent(topic)}/drains`,
    body,
    topic,
    what: nodes !== undefined ? `${operation} of ${nodeList(nodes)}` : `${target.count} x ${operation}`,
    json: values.json === true,
    dryRun: values['dry-run'] === true,
    wait: values.wait === true,
    intervalMs: interval,
  }, io);
}
