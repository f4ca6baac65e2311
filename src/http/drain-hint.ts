// The hint on a running drain (src/domain/drain-hint.ts), from the fleet inventory's counts of
// the drain's topic, read when the drain is read. The hint is an extra: without an inventory, or
// when it does not answer in time, the drain is shown without it, never with an error.

import { drainHint } from '../domain/drain-hint.js';
import type { NodeCounts } from '../domain/node-view.js';
import type { DrainView } from './drain-view.js';

/** How long a drain read waits for the inventory before it answers without the hint. */
export const HINT_READ_MS = 2_000;

export type TopicCountsReader = (topic: string) => Promise<NodeCounts | undefined>;

export async function withHint(view: DrainView, read: TopicCountsReader | undefined, now: Date, warn: (message: string) => void): Promise<DrainView> {
  // A targeted drain's commands wait for their own node: the topic's other nodes cannot take them.
  if (read === undefined || view.status !== 'running' || !view.counts?.untaken || view.topic === undefined || view.mode === undefined || view.mode === 'resume' || view.targets !== undefined) return view;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), HINT_READ_MS)));
  let nodes: NodeCounts | undefined | 'timeout';
  try {
    nodes = await Promise.race([read(view.topic), timeout]);
  } catch (err) {
    warn(`drain ${view.drainId}: no hint, the fleet inventory could not be read: ${(err as Error)?.message ?? err}`);
    return view;
  } finally {
    clearTimeout(timer);
  }
  if (nodes === 'timeout') {
    warn(`drain ${view.drainId}: no hint, the fleet inventory did not answer within ${HINT_READ_MS} ms`);
    return view;
  }
  if (nodes === undefined) return view;
  const hint = drainHint({ topic: view.topic, mode: view.mode, untaken: view.counts.untaken, ...(view.untakenExpireAt !== undefined && { untakenExpireAt: view.untakenExpireAt }), nodes, now });
  return hint === undefined ? view : { ...view, hint };
}
