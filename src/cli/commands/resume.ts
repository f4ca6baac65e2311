// `workforce resume <topic> (--node ID … | --all)`: undoes an intake stop remotely, and re-arms a
// drained node whose workers are gone (POST /api/topics/{topic}/resume, a drain of mode resume).

import { apiClient } from '../api.js';
import { EXIT, usageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, nodeIds, parse, relativeOrInstant, whoami } from '../options.js';
import { nodeList, startDrain } from '../start-drain.js';
import { intervalMs } from './drain.js';

export const RESUME_HELP = `workforce resume <topic> (--node ID … | --all) [options]

Resumes nodes of <topic> (POST /api/topics/<topic>/resume): an intake-stopped node takes tasks
again (its workers get the resume signal they declare, if any); a drained node whose workers
are gone is re-armed (it takes control messages again), as \`workforce-agent reset\` on the node
would. Tracked as a drain of mode resume; a resume never counts against the safety budget.

  --node ID             this node (repeat it: --node a --node b; at most 1000)
  --all                 every node the fleet inventory lists as intake-stopped
  --reason TEXT         why, shown to everyone watching
  --not-after D         a node that has not taken its command after D (default 15m) or the ISO
                        instant leaves it (the command expires)
  --requested-by WHO    who asks (default: user@host)
  --drain-id ID         your own id (letters, digits, . - _); a repeat is refused. Without
                        it the CLI picks a UUID, so its retries cannot start two drains
  --dry-run             show what would be sent and send nothing
  --wait                follow it until it ends; exit code says how (see workforce --help)
  --interval D          how often --wait polls (default 1s)
  --api URL --key KEY --timeout D --json
`;

const OPTIONS = {
  ...API_OPTIONS,
  node: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  'not-after': { type: 'string' },
  reason: { type: 'string' },
  'requested-by': { type: 'string' },
  'drain-id': { type: 'string' },
  'dry-run': { type: 'boolean' },
  wait: { type: 'boolean' },
  interval: { type: 'string' },
} as const;

export async function resumeCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parse('resume', args, OPTIONS, ['topic']);
  if (values.help) {
    io.out(RESUME_HELP);
    return EXIT.ok;
  }
  const topic = positionals[0]!;
  const nodes = nodeIds(values.node);
  if (nodes !== undefined && values.all) throw usageError('--node and --all exclude each other: resume the nodes you name (--node ID …) or every intake-stopped one (--all)');
  if (nodes === undefined && !values.all) throw usageError('--node or --all is required: which nodes to resume (--node ID, repeated), or every intake-stopped one (--all)');
  if (values['dry-run'] && values.wait) throw usageError('--dry-run sends nothing, so --wait has no resume to follow; leave one out');
  const body = {
    ...(nodes !== undefined ? { nodes } : { all: true }),
    ...relativeOrInstant('not-after', values['not-after'], 'ackTimeout', 'notAfter'),
    ...(values.reason !== undefined && { reason: values.reason }),
    requestedBy: values['requested-by'] ?? whoami(io.env),
    ...(values['drain-id'] !== undefined && { drainId: values['drain-id'] }),
    ...(values['dry-run'] && { dryRun: true }),
  };
  const interval = intervalMs(values.interval);
  return startDrain({
    api: apiClient(apiTarget(values, io), io),
    route: `topics/${encodeURIComponent(topic)}/resume`,
    body,
    topic,
    what: nodes !== undefined ? `resume of ${nodeList(nodes)}` : 'resume of every intake-stopped node',
    json: values.json === true,
    dryRun: values['dry-run'] === true,
    wait: values.wait === true,
    intervalMs: interval,
  }, io);
}
