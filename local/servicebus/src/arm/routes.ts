// ARM resource paths served by the emulator, parsed into typed routes. ARM matches the fixed
// segments case-insensitively; names are URL-decoded per segment (so `%2F` stays inside a name).
import type { NamespaceRef } from './resources.js';

export type Route =
  | { kind: 'namespaces'; subscriptionId: string; resourceGroup?: string }
  | { kind: 'namespace'; ref: NamespaceRef }
  | { kind: 'queues'; ref: NamespaceRef }
  | { kind: 'queue'; ref: NamespaceRef; queue: string }
  | { kind: 'topics'; ref: NamespaceRef }
  | { kind: 'topic'; ref: NamespaceRef; topic: string }
  | { kind: 'subscriptions'; ref: NamespaceRef; topic: string }
  | { kind: 'subscription'; ref: NamespaceRef; topic: string; subscription: string }
  | { kind: 'rules'; ref: NamespaceRef; topic: string; subscription: string }
  | { kind: 'rule'; ref: NamespaceRef; topic: string; subscription: string; rule: string };

const PROVIDER = ['providers', 'microsoft.servicebus', 'namespaces'];

export function parseRoute(pathname: string): Route | undefined {
  let segments: string[];
  try {
    segments = pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const lower = segments.map((s) => s.toLowerCase());
  if (lower[0] !== 'subscriptions' || segments.length < 2) return undefined;
  const subscriptionId = segments[1]!;
  let at = 2;
  let resourceGroup: string | undefined;
  if (lower[at] === 'resourcegroups') {
    resourceGroup = segments[at + 1];
    if (resourceGroup === undefined) return undefined;
    at += 2;
  }
  if (PROVIDER.some((s, i) => lower[at + i] !== s)) return undefined;
  at += PROVIDER.length;
  const namespace = segments[at];
  if (namespace === undefined) return { kind: 'namespaces', subscriptionId, ...(resourceGroup ? { resourceGroup } : {}) };
  if (resourceGroup === undefined) return undefined;
  const ref: NamespaceRef = { subscriptionId, resourceGroup, namespace };
  const rest = segments.slice(at + 1);
  const restLower = lower.slice(at + 1);
  const [c0, , c1, , c2] = restLower;
  const names = rest.filter((_, i) => i % 2 === 1);
  switch (rest.length) {
    case 0:
      return { kind: 'namespace', ref };
    case 1:
      if (c0 === 'queues') return { kind: 'queues', ref };
      if (c0 === 'topics') return { kind: 'topics', ref };
      return undefined;
    case 2:
      if (c0 === 'queues') return { kind: 'queue', ref, queue: names[0]! };
      if (c0 === 'topics') return { kind: 'topic', ref, topic: names[0]! };
      return undefined;
    case 3:
      if (c0 === 'topics' && c1 === 'subscriptions') return { kind: 'subscriptions', ref, topic: names[0]! };
      return undefined;
    case 4:
      if (c0 === 'topics' && c1 === 'subscriptions') {
        return { kind: 'subscription', ref, topic: names[0]!, subscription: names[1]! };
      }
      return undefined;
    case 5:
      if (c0 === 'topics' && c1 === 'subscriptions' && c2 === 'rules') {
        return { kind: 'rules', ref, topic: names[0]!, subscription: names[1]! };
      }
      return undefined;
    case 6:
      if (c0 === 'topics' && c1 === 'subscriptions' && c2 === 'rules') {
        return { kind: 'rule', ref, topic: names[0]!, subscription: names[1]!, rule: names[2]! };
      }
      return undefined;
    default:
      return undefined;
  }
}
