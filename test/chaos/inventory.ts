// The fleet inventory as a chaos run reads it (GET /api/topics/{topic}/nodes): in runs whose
// resume takes every intake-stopped node (`all: true`), which need it.
import { sleep } from '../../worker-agent/test/helpers.js';
import type { ChaosControlPlane } from './control-plane.js';
import type { ChaosNode } from './fleet.js';

/** Until the inventory lists every node: a named node it has never seen is refused (400 UnknownNodes). */
export async function waitListed(plane: ChaosControlPlane, topic: string, count: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let listed = 0;
  while ((listed = (await plane.api('GET', `topics/${topic}/nodes`)).body?.nodes?.length ?? 0) < count) {
    if (Date.now() > until) throw new Error(`the fleet inventory lists ${listed} of ${count} nodes after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/**
 * What a resume with `all: true` should take, read right before it is posted: each node's own
 * state (its state file) and the nodes the inventory lists stale or offline (it takes none).
 */
export async function standingNow(plane: ChaosControlPlane, topic: string, nodes: ChaosNode[]): Promise<{ asked: Record<string, string>; unreachable: string[] }> {
  const views: Array<{ nodeId: string; stale: boolean; presence?: string }> = (await plane.api('GET', `topics/${topic}/nodes`)).body?.nodes ?? [];
  return {
    unreachable: views.filter((v) => v.stale || v.presence === 'offline').map((v) => v.nodeId),
    asked: Object.fromEntries(nodes.map((n) => [n.id, n.state()?.state ?? 'active'])),
  };
}
