import type { DurableOrchestrationStatus } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { drainView, needsInput } from '../../src/http/drain-view.js';

const spec = {
  drainId: 'd-1', topic: 'eu-west', mode: 'graceful-downscale', count: 2, requestedAt: '2026-11-25T22:00:00.000Z',
  notAfter: '2026-11-25T22:15:00.000Z', deadline: '2026-11-25T23:00:00.000Z', reason: 'nightly', requestedBy: 'schedule:nightly',
};

function status(fields: Partial<DurableOrchestrationStatus>): DurableOrchestrationStatus {
  return {
    name: 'drainOrchestrator', instanceId: 'd-1', createdTime: new Date('2026-11-25T22:00:00Z'),
    lastUpdatedTime: new Date('2026-11-25T22:00:00Z'), input: { spec, generation: 0, eventsFolded: 0 },
    output: null, runtimeStatus: 'Pending', customStatus: null, history: [], ...fields,
  } as unknown as DurableOrchestrationStatus;
}

describe('drainView', () => {
  it('shows who asked, for what and why while the orchestration is still pending', () => {
    const view = drainView(status({}), { full: true });
    expect(view).toMatchObject({
      drainId: 'd-1', status: 'running', runtimeStatus: 'Pending', topic: 'eu-west', mode: 'graceful-downscale',
      requestedBy: 'schedule:nightly', reason: 'nightly', deadline: spec.deadline,
      counts: { requested: 2, done: 0, shortfall: 2 }, nodes: [],
    });
  });

  // GET reads the status without its input (it carries every node later on) and asks again with
  // it only when needed, so a drain polled while Pending still shows its request.
  it('needs the input only until the first custom status or the output', () => {
    expect(needsInput(status({ input: null }))).toBe(true);
    expect(needsInput(status({ runtimeStatus: 'Running' as never, customStatus: { status: 'running' } }))).toBe(false);
    expect(needsInput(status({ runtimeStatus: 'Completed' as never, output: { summary: {} } }))).toBe(false);
    expect(drainView(status({ input: null }), { full: true }).topic).toBeUndefined();
  });

  it('prefers the custom status once there is one, and names a failure', () => {
    const running = drainView(status({ runtimeStatus: 'Running' as never, customStatus: { topic: 'from-status', status: 'running' } }), { full: true });
    expect(running.topic).toBe('from-status');
    const failed = drainView(status({ runtimeStatus: 'Failed' as never, output: 'publish failed: topic not found\n  at stack' }), { full: false });
    expect(failed).toMatchObject({ status: 'failed', failure: 'publish failed: topic not found' });
  });
});
