// A topic's node counts for the drain hint, read from the fleet inventory and kept a few seconds
// per topic: every poll of a waiting drain (the CLI each second, the dashboard every 2 s) would
// otherwise read every row of its topic.

import { nodeInventory } from '../adapters/inventory-table.js';
import type { InventoryStorage } from '../config.js';
import { topicPartition } from '../domain/node-inventory.js';
import { addToCounts, emptyCounts, type NodeCounts } from '../domain/node-view.js';
import type { TopicCountsReader } from './drain-hint.js';

export const COUNTS_CACHE_MS = 5_000;
const CACHE_MAX = 1_000;

const cache = new Map<string, { at: number; counts: Promise<NodeCounts> }>();

export function topicCountsReader(storage: InventoryStorage): TopicCountsReader {
  const store = nodeInventory(storage);
  return (topic) => {
    const partition = topicPartition(topic);
    const hit = cache.get(partition);
    if (hit && Date.now() - hit.at < COUNTS_CACHE_MS) return hit.counts;
    const counts = (async () => {
      const now = new Date();
      const c = emptyCounts();
      for await (const row of store.standings(partition)) addToCounts(c, row, now);
      return c;
    })();
    // A failed read is not kept: the next poll asks again.
    counts.catch(() => cache.get(partition)?.counts === counts && cache.delete(partition));
    cache.set(partition, { at: Date.now(), counts });
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
    return counts;
  };
}
