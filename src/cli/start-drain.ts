// What `drain` and `resume` share once their flags are checked: POST the request, then print the
// dry run's plan, or the started drain (with the named nodes no agent can take a command from
// now), or follow it with --wait.

import type { ApiClient } from './api.js';
import { EXIT, type ExitCode } from './errors.js';
import type { Io } from './io.js';
import { printable } from './printable.js';
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
}

export async function startDrain(s: Start, io: Io): Promise<ExitCode> {
  const answer = await s.api.post(s.route, s.body);
  if (s.dryRun) {
    io.out(s.json ? `${JSON.stringify(answer, null, 2)}\n` : planText(answer as DryRunJson, s.what, s.topic));
    return EXIT.ok;
  }
  const started = answer as Started;
  if (s.json && !s.wait) {
    io.out(`${JSON.stringify(started, null, 2)}\n`);
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
