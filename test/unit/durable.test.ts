import { createRequire } from 'node:module';
import { DummyOrchestrationContext, type OrchestrationContext } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { eventsInHistory } from '../../src/adapters/durable.js';

// eventsInHistory reads `context.df.state`, which durable-functions keeps but does not document.
// These replay a history through the library's own orchestrator wrapper (the one
// df.app.orchestration registers), so an upgrade that moves the history fails here, not in a
// drain that silently stops continuing as new.
const require = createRequire(import.meta.url);
const VERSION_READ = '3.5.0';

describe('eventsInHistory against the installed durable-functions', () => {
  it(`is written for durable-functions ${VERSION_READ}`, () => {
    const installed = (require('durable-functions/package.json') as { version: string }).version;
    expect(installed, `durable-functions is ${installed}: check that context.df.state still holds the history, then set VERSION_READ`).toBe(VERSION_READ);
  });

  it('counts the raised events of a name in the history the library replays', async () => {
    const { createOrchestrator } = require('durable-functions/lib/src/util/testingUtils') as {
      createOrchestrator: (fn: (context: OrchestrationContext) => Generator) => (trigger: unknown, context: unknown) => Promise<unknown>;
    };
    const at = '2030-01-01T00:00:00.000Z';
    const raised = (name: string, n: number) => ({ EventType: 15, EventId: -1, IsPlayed: false, Timestamp: at, Name: name, Input: JSON.stringify({ n }) });
    const history = [
      { EventType: 12, EventId: -1, IsPlayed: false, Timestamp: at },
      { EventType: 0, EventId: -1, IsPlayed: false, Timestamp: at, Name: 'drainOrchestrator', Input: 'null' },
      raised('report', 1),
      raised('other', 2),
      raised('report', 3),
    ];
    let seen: Record<string, number | undefined> = {};
    const orchestrator = createOrchestrator(function* (context) {
      seen = { report: eventsInHistory(context, 'report'), cancel: eventsInHistory(context, 'cancel') };
      return null;
    });
    await orchestrator({ history, input: null, instanceId: 'd1', isReplaying: false, upperSchemaVersion: 1 }, new DummyOrchestrationContext());
    expect(seen).toEqual({ report: 2, cancel: 0 });
  });
});
