import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../cli/run-cli.js';
import { takeControlMessages } from '../support/agents.js';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';

/**
 * A caller signed in through App Service Authentication writes someone else's name in the body's
 * `requestedBy`: the audit trail names the principal, and keeps the body's claim as
 * `requestedFor` (`cancelledFor`), in the API, the messages and the CLI.
 */
describe('who asked: the signed-in principal, not the body', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });

  /** As App Service passes a signed-in caller to the app. */
  const asPrincipal = async (principal: string, method: string, route: string, body: unknown) => {
    const res = await fetch(`${cp.host.url}/api/${route}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY, 'x-ms-client-principal-name': principal },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('records the principal as requestedBy and cancelledBy, and the claim as requestedFor and cancelledFor', async () => {
    await cp.api('PUT', 'topics/audit-1');
    const post = await asPrincipal('alice@corp.example', 'POST', 'topics/audit-1/drains', { count: 1, requestedBy: 'ceo@corp.example', reason: 'cost' });
    expect(post.status).toBe(202);
    expect(post.body.spec).toMatchObject({ requestedBy: 'alice@corp.example', requestedFor: 'ceo@corp.example' });
    const { drainId } = post.body;

    const [message] = await takeControlMessages(cp.sb, 'audit-1', 1);
    expect(message!.body).toMatchObject({ requestedBy: 'alice@corp.example' });
    const running = await waitFor(async () => {
      const d = (await cp.api('GET', `drains/${drainId}`)).body;
      return d.counts !== undefined && d;
    }, 'the drain to start');
    expect(running).toMatchObject({ requestedBy: 'alice@corp.example', requestedFor: 'ceo@corp.example' });

    const status = await cli(['status', drainId], { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY });
    expect(status.stdout).toContain('requested by alice@corp.example (for ceo@corp.example, as the caller said): cost');

    expect((await asPrincipal('bob@corp.example', 'POST', `drains/${drainId}/cancel`, { requestedBy: 'ceo@corp.example' })).status).toBe(202);
    const ended = await waitFor(async () => {
      const d = (await cp.api('GET', `drains/${drainId}`)).body;
      return d.status === 'cancelled' && d;
    }, 'the drain to be cancelled');
    expect(ended).toMatchObject({ cancelledBy: 'bob@corp.example', cancelledFor: 'ceo@corp.example' });
  });

  it('without a principal (function key only), the body says who asked', async () => {
    await cp.api('PUT', 'topics/audit-2');
    const post = await cp.api('POST', 'topics/audit-2/drains', { count: 1, requestedBy: 'ops@corp.example' });
    expect(post.body.spec.requestedBy).toBe('ops@corp.example');
    expect(post.body.spec.requestedFor).toBeUndefined();
  });
});
