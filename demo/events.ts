// Prints what the fleet's workers do (task started/finished, drain requested, exiting) as it
// happens, by following each node's events.jsonl.

import { readFileSync } from 'node:fs';
import path from 'node:path';
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
  const offsets = new Map<string, number>();
  const timer = setInterval(() => {
    for (const n of nodes) {
      const file = path.join(n.queue.dir, 'events.jsonl');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      const from = offsets.get(file) ?? text.length; // only what happens from now on
      offsets.set(file, text.length);
      for (const line of text.slice(from).split('\n')) {
        if (!line.trim()) continue;
        const e = JSON.parse(line) as { event: string; workerId: string; taskId?: string };
        const what = SHOWN[e.event];
        if (what) write(`${utcSeconds(new Date())}  ${e.workerId.padEnd(24)} ${what}${e.taskId ? ` ${e.taskId}` : ''}`);
      }
    }
  }, everyMs);
  return () => clearInterval(timer);
}
