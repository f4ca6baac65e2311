import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durableClientData } from '../../local/functions-host/src/durable/api.js';
import { EventType } from '../../local/functions-host/src/durable/history.js';
import { findDrain, raiseDrainEvent } from '../../src/adapters/durable.js';
import { CANCEL_EVENT } from '../../src/domain/drain-protocol.js';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';

/**
 * The durable client pastes instance ids into its URLs as they are. Drain ids are validated
 * where they enter, and the adapter encodes every id as well: this test calls the adapter with
 * the real client against the local host's durable HTTP API, with ids no parser would let in.
 */
describe('durable adapter: instance ids are encoded', () => {
  let cp: ControlPlane;
  let client: df.DurableClient;
  beforeAll(async () => {
    cp = await startControlPlane();
    // The client's own binding data, as the host hands it to functions (and its origin, which
    // durable-functions otherwise rewrites to localhost:7071).
    process.env.WEBSITE_HOSTNAME = new URL(cp.host.url).host;
    const input = df.input.durableClient();
    const context = new InvocationContext({ functionName: 'test', invocationId: 'durable-ids', options: { extraInputs: [input] } });
    context.extraInputs.set(input, durableClientData(cp.host.url, 'workforce', cp.host.keys.durableTask));
    client = df.getClient(context);
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('an id holding a path, an operation or a query reaches no other instance', async () => {
    await cp.api('PUT', 'topics/ids-topic');
    expect((await cp.api('POST', 'topics/ids-topic/drains', { drainId: 'victim', count: 1 })).status).toBe(202);
    expect(await findDrain(client, 'victim')).toMatchObject({ instanceId: 'victim' });

    expect(await raiseDrainEvent(client, 'victim/terminate?reason=x&', CANCEL_EVENT, {})).toBe(false);
    expect(await raiseDrainEvent(client, 'victim/suspend?reason=x&', CANCEL_EVENT, {})).toBe(false);
    expect(await raiseDrainEvent(client, 'victim/raiseEvent/cancel?', CANCEL_EVENT, {})).toBe(false);
    expect(await findDrain(client, 'x/../victim')).toBeUndefined();

    // Nothing was raised on, terminated or suspended the victim (not even queued for its next episode).
    const { store } = cp.host.durable;
    const touched = [...store.getHistory('victim'), ...store.messages('victim').map((m) => m.event)]
      .filter((e) => e.EventType === EventType.EventRaised || e.EventType === EventType.ExecutionTerminated || e.EventType === EventType.ExecutionSuspended);
    expect(touched).toEqual([]);
    expect(store.getInstance('victim')?.status).not.toBe('Terminated');
  });
});
