// Where the time of a message acted on goes, for the benchmark (bench/agent.bench.ts). The
// drain marks the start of its steps; the timing probe logs them as one `drain-timings` line
// once the commit is written. Production runs the no-op probe; `--timings`
// (WORKFORCE_AGENT_TIMINGS=1) turns the timing probe on.

import type { Logger } from '../common/log.js';

export type DrainMark = 'received' | 'persisting' | 'deferring' | 'deferred' | 'signalling' | 'committed';

export interface DrainProbe {
  mark(step: DrainMark): void;
}

export const NO_PROBE: DrainProbe = { mark() {} };

/** Logs `drain-timings`: when the message was received and signalling began (CLOCK_MONOTONIC, ns), and µs per step. */
export function timingProbe(log: Logger): DrainProbe {
  let at: Partial<Record<DrainMark, bigint>> = {};
  return {
    mark(step) {
      if (step === 'received') at = {};
      at[step] = process.hrtime.bigint();
      const { received, persisting, deferring, deferred, signalling, committed } = at;
      // Only a message received by this process (not one resumed by recovery) has every step.
      if (step !== 'committed' || !received || !persisting || !deferring || !deferred || !signalling || !committed) return;
      const us = (from: bigint, to: bigint) => Number(to - from) / 1e3;
      log.info('drain-timings', {
        receivedMono: String(received),
        signalMono: String(signalling),
        persistUs: us(persisting, deferring),
        deferUs: us(deferring, deferred),
        commitUs: us(deferred, signalling),
        signalAndSaveUs: us(signalling, committed),
      });
      at = {};
    },
  };
}
