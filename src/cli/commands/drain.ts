// `workforce drain <topic> --count N …`: starts a drain through the API; with --wait, follows it.

import { OPERATIONS } from '@workforce/worker-agent/contract';
import { parseDuration } from '../../domain/durations.js';
import { apiClient } from '../api.js';
import { EXIT, usageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { API_OPTIONS, apiTarget, count, duration, isInstant, oneOf, parse, relativeOrInstant, whoami } from '../options.js';
import { watchDrain } from '../watch.js';

export const DRAIN_HELP = `workforce drain <topic> --count N [options]

Asks N nodes listening on <topic> to drain (POST /api/topics/<topic>/drains).

  --count N             how many nodes (one control message each)                (required)
  --mode M              graceful-downscale (default): finish the current task and exit
                        do-not-accept-new-tasks: stop taking tasks, keep running
  --deadline D          kill what is left after D (e.g. 2h) or at an ISO instant
                        (graceful-downscale only; without it workers may take as long as they need)
  --not-after D         a node that has not taken a message after D (default 15m, or the
                        deadline when that is sooner) or the ISO instant leaves it
  --reason TEXT         why, shown to everyone watching
  --requested-by WHO    who asks (default: user@host)
  --drain-id ID         your own id (letters, digits, . - _); a repeat is refused
  --wait                follow the drain until it ends; exit code says how (see workforce --help)
  --interval D          how often --wait polls (default 1s)
  --api URL --key KEY --json
`;

const OPTIONS = {
  ...API_OPTIONS,
  count: { type: 'string' },
  mode: { type: 'string' },
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
  const mode = oneOf('mode', values.mode, OPERATIONS);
  if (values.deadline !== undefined && mode === 'do-not-accept-new-tasks') {
    throw usageError('--deadline applies to graceful-downscale only: a node that stops taking tasks keeps running');
  }
  const deadline = relativeOrInstant('deadline', values.deadline, 'gracePeriod', 'deadline');
  const notAfter = relativeOrInstant('not-after', values['not-after'], 'ackTimeout', 'notAfter');
  // Without --not-after the API takes 15m or the deadline, whichever is sooner.
  if (values.deadline !== undefined && values['not-after'] !== undefined && instantOf(values['not-after'], io.now()) > instantOf(values.deadline, io.now())) {
    throw usageError(`--not-after ${values['not-after']} ends after --deadline ${values.deadline}: a node could take the drain when it is already over; give a --not-after no later than the --deadline, or leave it out`);
  }
  const body = {
    count: count('count', values.count),
    ...(mode !== undefined && { mode }),
    ...deadline,
    ...notAfter,
    ...(values.reason !== undefined && { reason: values.reason }),
    requestedBy: values['requested-by'] ?? whoami(io.env),
    ...(values['drain-id'] !== undefined && { drainId: values['drain-id'] }),
  };
  const interval = intervalMs(values.interval);
  const api = apiClient(apiTarget(values, io));
  const started = await api.post(`topics/${encodeURIComponent(positionals[0]!)}/drains`, body);
  if (!values.wait) {
    if (values.json) io.out(`${JSON.stringify(started, null, 2)}\n`);
    else io.out(`drain ${started.drainId} started: ${body.count} x ${started.spec?.mode ?? mode} on ${positionals[0]}\n  follow it: workforce status ${started.drainId} --watch\n`);
    return EXIT.ok;
  }
  if (!values.json) io.out(`drain ${started.drainId} started\n`);
  return watchDrain(api, started.drainId, io, { json: values.json === true, intervalMs: interval });
}
