// What `drain` and `resume` share once their flags are checked: POST the request, then print the
// dry run's plan, or the started drain (with the named nodes no agent can take a command from
// now), or follow it with --wait.
//
// The drain id is chosen here, before the first attempt, when the user gave none: the API starts
// at most one drain per id, so a POST retried after a lost answer cannot start a second drain.
// A 409 DrainExists on a retry is the drain an earlier attempt started; on the first attempt it
// is the user's --drain-id already taken, and stays an error.

import { randomUUID } from 'node:crypto';
import { ApiRefusal, type ApiClient } from './api.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import type { Io } from './io.js';
import { printable } from './printable.js';
import type { DrainJson } from './render.js';
import { planText, unknownLine, unreachableLines, type DryRunJson, type UnreachableJson } from './render-commands.js';
import { watchDrain } from './watch.js';

export interface Start {
  api: ApiClient;
  /** API route, e.g. topics/eu-west/drains */
  route: string;
  body: Record<string, unknown>;
  topic: string;
  /** What is asked, for the text output: "graceful-downscale of a, b". */
  what: string;
  json: boolean;
  dryRun: boolean;
  wait: boolean;
  intervalMs: number;
}

interface Started {
  drainId: string;
  spec?: { notAfter?: string; forced?: boolean };
  unreachable?: UnreachableJson[];
  unknownNodes?: string[];
  warnings?: string[];
  /** Read back (GET /api/drains/{id}) instead of the POST's answer, which was lost. */
  view?: DrainJson;
}

/** The drain an earlier attempt started, read back when a retry answered DrainExists. */
async function earlierAttempt(s: Start, drainId: string, refusal: ApiRefusal): Promise<Started> {
  const d = (await s.api.get(`drains/${encodeURIComponent(drainId)}`)) as DrainJson & { unreachable?: UnreachableJson[]; forced?: true };
  // Not ours after all (the id was taken for another topic meanwhile): the refusal stands.
  if (d.topic !== s.topic) throw refusal;
  return {
    drainId,
    spec: { ...(d.notAfter !== undefined && { notAfter: d.notAfter }), ...(d.forced && { forced: true }) },
    ...(d.unreachable && { unreachable: d.unreachable }),
    warnings: ['the answer to the first attempt was lost; this is the drain it started'],
    view: d,
  };
}

/** POSTs the request; the drain it started, read back when a retry found an earlier attempt's. */
async function post(s: Start): Promise<unknown> {
  const drainId = s.body.drainId as string | undefined;
  try {
    return await s.api.post(s.route, s.body);
  } catch (err) {
    if (drainId === undefined) throw err;
    if (err instanceof ApiRefusal && err.attempts > 1 && err.problem?.code === 'DrainExists') return earlierAttempt(s, drainId, err);
    // The drain may have started before the answer was lost: say how to find out, and that a rerun is safe.
    if (err instanceof CliError && (err.exitCode === EXIT.unreachable || (err instanceof ApiRefusal && err.status >= 500))) {
      throw new CliError(err.exitCode, `${err.message}\n  drain ${drainId} may have started: \`workforce status ${drainId}\` shows it; the same command with --drain-id ${drainId} cannot start it twice`, err.problem);
    }
    throw err;
  }
}

export async function startDrain(s: Start, io: Io): Promise<ExitCode> {
  if (!s.dryRun && s.body.drainId === undefined) s = { ...s, body: { ...s.body, drainId: randomUUID() } };
  const answer = await post(s);
  if (s.dryRun) {
    io.out(s.json ? `${JSON.stringify(answer, null, 2)}\n` : planText(answer as DryRunJson, s.what, s.topic));
    return EXIT.ok;
  }
  const started = answer as Started;
  if (s.json && !s.wait) {
    io.out(`${JSON.stringify(started.view ?? started, null, 2)}\n`);
    return EXIT.ok;
  }
  if (!s.json) {
    // With --wait the progress block says the rest.
    const lines = [s.wait ? `drain ${started.drainId} started` : `drain ${started.drainId} started: ${s.what} on ${printable(s.topic)}`];
    if (started.spec?.forced) lines.push('  forced (--force): recorded in the drain');
    lines.push(...unreachableLines(started.unreachable, started.spec?.notAfter));
    lines.push(...unknownLine(started.unknownNodes));
    for (const w of started.warnings ?? []) lines.push(`  warning: ${printable(w)}`);
    if (!s.wait) lines.push(`  follow it: workforce status ${started.drainId} --watch`);
    io.out(`${lines.join('\n')}\n`);
  }
  if (!s.wait) return EXIT.ok;
  return watchDrain(s.api, started.drainId, io, { json: s.json, intervalMs: s.intervalMs });
}

/** "a, b and 3 more": the named nodes in one line. */
export function nodeList(nodes: string[]): string {
  const shown = nodes.slice(0, 5).map(printable).join(', ');
  return nodes.length > 5 ? `${shown} and ${nodes.length - 5} more` : shown;
}
