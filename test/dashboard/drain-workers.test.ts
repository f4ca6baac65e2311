import type { DurableOrchestrationStatus } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { applyReport, newProgress } from '../../src/domain/drain-progress.js';
import { progressWithWorkers } from '../../src/functions/drain-workers.js';
import { report } from '../support/agents.js';

const spec = { drainId: 'd1', topic: 't', mode: 'graceful-downscale' as const, count: 2, notAfter: '2030-01-01T00:00:00.000Z', requestedAt: '2029-12-31T00:00:00.000Z' };
const raised = (r: object) => ({ EventType: 'EventRaised', Name: 'report', Input: [r] });

/** The workers view reads what continue-as-new carried (every folded report), never the history. */
describe('progressWithWorkers', () => {
  it('shows a drain with no report folded yet as no nodes', () => {
    const status = { input: { spec, generation: 0, eventsFolded: 0 }, history: [raised(report('d1', 1, 'n1', 'accepted', 't'))] } as unknown as DurableOrchestrationStatus;
    expect(progressWithWorkers(status).nodes).toEqual({});
  });

  it('reads the progress carried by continue-as-new', () => {
    const carried = newProgress('d1', 't', 'graceful-downscale', 2);
    applyReport(carried, report('d1', 2, 'n2', 'drained', 't'));
    const status = { input: { spec, progress: carried, generation: 1, eventsFolded: 100 } } as unknown as DurableOrchestrationStatus;
    expect(progressWithWorkers(status).nodes.n2).toMatchObject({ state: 'drained', workers: [{ pid: 1002, exited: true }] });
  });

  it('reads an ended drain from its output', () => {
    const done = newProgress('d1', 't', 'graceful-downscale', 1);
    applyReport(done, report('d1', 1, 'n3', 'drained', 't'));
    const status = { input: null, output: { progress: done } } as unknown as DurableOrchestrationStatus;
    expect(Object.keys(progressWithWorkers(status).nodes)).toEqual(['n3']);
  });
});
