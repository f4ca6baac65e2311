import type { DurableOrchestrationStatus } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { applyReport, newProgress } from '../../src/domain/drain-progress.js';
import { progressWithWorkers } from '../../src/functions/drain-workers.js';
import { report } from '../support/agents.js';

const spec = { drainId: 'd1', topic: 't', mode: 'graceful-downscale' as const, count: 2, notAfter: '2030-01-01T00:00:00.000Z', requestedAt: '2029-12-31T00:00:00.000Z' };
const raised = (r: object, asString = false) => ({ EventType: 'EventRaised', Name: 'report', Input: asString ? JSON.stringify(r) : r });

/** The workers view folds the current generation's reports onto what continue-as-new carried. */
describe('progressWithWorkers', () => {
  it('folds reported workers of the first generation from the history', () => {
    const status = {
      input: { spec, generation: 0, eventsFolded: 0 },
      history: [
        { EventType: 'ExecutionStarted' },
        raised(report('d1', 1, 'n1', 'accepted', 't')),
        raised(report('d1', 1, 'n1', 'signalled', 't'), true), // Azure may hand inputs as JSON text
        raised({ not: 'a report' }),
        { EventType: 'EventRaised', Name: 'cancel', Input: {} },
      ],
    } as unknown as DurableOrchestrationStatus;
    const p = progressWithWorkers(status);
    expect(p.nodes.n1).toMatchObject({ state: 'draining', workers: [{ workerId: 'n1-w', pid: 1001, exited: false }] });
  });

  it('starts from the progress carried by continue-as-new', () => {
    const carried = newProgress('d1', 't', 'graceful-downscale', 2);
    applyReport(carried, report('d1', 2, 'n2', 'accepted', 't'));
    const status = {
      input: { spec, progress: carried, generation: 1, eventsFolded: 100 },
      history: [raised(report('d1', 2, 'n2', 'drained', 't'))],
    } as unknown as DurableOrchestrationStatus;
    expect(progressWithWorkers(status).nodes.n2).toMatchObject({ state: 'drained', workers: [{ pid: 1002, exited: true }] });
  });

  it('reads an ended drain from its output', () => {
    const done = newProgress('d1', 't', 'graceful-downscale', 1);
    applyReport(done, report('d1', 1, 'n3', 'drained', 't'));
    const status = { input: null, output: { progress: done } } as unknown as DurableOrchestrationStatus;
    expect(Object.keys(progressWithWorkers(status).nodes)).toEqual(['n3']);
  });
});
