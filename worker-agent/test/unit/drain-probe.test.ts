import { describe, expect, it } from 'vitest';
import { NO_PROBE, timingProbe } from '../../src/agent/drain-probe.js';
import { createLogger } from '../../src/common/log.js';

function lines() {
  const out: Array<Record<string, unknown>> = [];
  return { out, log: createLogger('debug', (l) => out.push(JSON.parse(l) as Record<string, unknown>)) };
}

describe('drain probe', () => {
  it('logs one drain-timings line, with every step, when the commit of a received message is written', () => {
    const { out, log } = lines();
    const probe = timingProbe(log);
    for (const step of ['received', 'persisting', 'deferring', 'deferred', 'signalling'] as const) probe.mark(step);
    expect(out).toEqual([]);
    probe.mark('committed');
    expect(out).toHaveLength(1);
    const t = out[0]!;
    expect(t['event']).toBe('drain-timings');
    for (const field of ['persistUs', 'deferUs', 'commitUs', 'signalAndSaveUs']) expect(t[field]).toBeGreaterThanOrEqual(0);
    expect(BigInt(String(t['signalMono']))).toBeGreaterThanOrEqual(BigInt(String(t['receivedMono'])));
  });

  it('logs nothing for a commit resumed by recovery (no receive), nor twice for one message', () => {
    const { out, log } = lines();
    const probe = timingProbe(log);
    probe.mark('signalling');
    probe.mark('committed');
    expect(out).toEqual([]);
    for (const step of ['received', 'persisting', 'deferring', 'deferred', 'signalling', 'committed'] as const) probe.mark(step);
    probe.mark('signalling');
    probe.mark('committed');
    expect(out).toHaveLength(1);
  });

  it('is a no-op unless asked for', () => {
    expect(() => NO_PROBE.mark('received')).not.toThrow();
  });
});
