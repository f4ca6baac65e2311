// Prints what the fleet's workers do (task started/finished, drain requested, exiting) as it
// happens, by following each node's queue events.

import type { FleetNode } from './fleet.js';

const SHOWN: Record<string, string> = {
  finished: '✓ finished',
  'drain-requested': '⏻ drain requested — finishing the task in flight',
  'intake-signal': '⏸ intake stopped',
  idle: '… idle (intake stopped)',
  exiting: '⏹ exited cleanly',
};

/** UTC, as the CLI prints times: one clock for everyone watching a drain. */
export const utcSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function followEvents(nodes: FleetNode[], write: (line: string) => void, everyMs = 500): () => void {
  const seen = new Map<string, number>();
  const timer = setInterval(() => {
    for (const n of nodes) {
      const events = n.queue.events();
      const from = seen.get(n.id) ?? events.length; // only what happens from now on
      seen.set(n.id, events.length);
      for (const e of events.slice(from)) {
        const what = SHOWN[e.event];
        if (what) write(`${utcSeconds(new Date())}  ${e.workerId.padEnd(24)} ${what}${e.taskId ? ` ${e.taskId}` : ''}`);
      }
    }
  }, everyMs);
  return () => clearInterval(timer);
}
