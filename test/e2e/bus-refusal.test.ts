import { newPrincipal, startTokenIssuer, type TokenIssuer } from '@workforce/identity-emulator';
import { startEmulator, type RunningEmulator } from '@workforce/servicebus-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { missingClaim, refusalReason, retryUnlessRefused } from '../../src/adapters/bus-refusal.js';
import { ONE_TRY } from '../../src/adapters/service-bus.js';
import { sendBatches } from '../../src/adapters/service-bus.js';
import { ServiceBusClient } from '@azure/service-bus';

/**
 * The activities' Service Bus calls (src/adapters/bus-refusal.ts), through the real SDK against
 * the emulator: one try per call, and a refusal for a missing claim final at once (the SDK alone
 * retries it for 90 s).
 */
describe('retryUnlessRefused', () => {
  let issuer: TokenIssuer;
  let emulator: RunningEmulator;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    issuer = await startTokenIssuer({ principals: [newPrincipal('receiver')] });
    const receiver = issuer.principals[0]!.objectId;
    emulator = await startEmulator({
      port: 0,
      entra: { issuer: issuer.issuer, keys: issuer.jwks.keys, roleAssignments: [{ principalId: receiver, role: 'Azure Service Bus Data Receiver', scope: '/' }] },
    });
    emulator.catalogue.putQueue('q');
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await emulator?.close();
    await issuer?.close();
  });

  it('ends at the first refusal, naming the claim, where the retry delay would be a minute', async () => {
    const tls = Number(/Endpoint=sb:\/\/localhost:(\d+)/.exec(emulator.amqpsConnectionString!)![1]);
    const credential = { getToken: async () => ({ token: issuer.mint('receiver', 'https://servicebus.azure.net/'), expiresOnTimestamp: Date.now() + 3_000_000 }) };
    const client = new ServiceBusClient(`localhost:${tls}`, credential, {
      ...ONE_TRY,
      webSocketOptions: { webSocket: WebSocket, webSocketConstructorOptions: { ca: emulator.caCertificate } },
    });
    closers.push(() => client.close());
    // A retry would wait 60 s, past the test's timeout.
    const err = await retryUnlessRefused(() => sendBatches(client, 'q', [{ body: 'x' }]), 3, 60_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'UnauthorizedAccess' });
    expect(missingClaim(err)).toBe('Send');
    expect(refusalReason('Send', { kind: 'identity', fullyQualifiedNamespace: 'ns.servicebus.windows.net' }, "topic 'eu-west'")).toBe(
      "the app's identity lacks Send on topic 'eu-west' (assign it Azure Service Bus Data Sender on it or on the namespace)",
    );
  });
});
