import { HttpRequest, InvocationContext } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';

// A real failure, not a mock: the ARM endpoint is a closed port on this machine. The app reads
// its settings once, so this file (its own process under vitest's forks pool) sets them first.
describe('PUT /api/topics when Service Bus management is unreachable', () => {
  let putTopic: typeof import('../../src/functions/put-topic.js').putTopic;
  beforeAll(async () => {
    Object.assign(process.env, {
      ServiceBusConnection: 'Endpoint=sb://localhost:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true',
      AZURE_SUBSCRIPTION_ID: 'sub',
      SERVICEBUS_RESOURCE_GROUP: 'rg',
      SERVICEBUS_NAMESPACE: 'ns',
      SERVICEBUS_ARM_ENDPOINT: 'https://localhost:1',
      SERVICEBUS_ARM_CREDENTIAL: 'emulator',
    });
    ({ putTopic } = await import('../../src/functions/put-topic.js'));
  });

  it('answers 503 problem+json with the cause and no stack trace', async () => {
    const req = new HttpRequest({ method: 'PUT', url: 'http://localhost/api/topics/eu-west', params: { topic: 'eu-west' } });
    const res = await putTopic(req, new InvocationContext({ functionName: 'putTopic', invocationId: 'unit' }));
    expect(res.status).toBe(503);
    expect(res.headers).toEqual({ 'content-type': 'application/problem+json' });
    expect(res.jsonBody).toMatchObject({ code: 'ProvisioningFailed', status: 503 });
    expect(String((res.jsonBody as { detail: string }).detail)).toMatch(/unavailable/);
    expect(JSON.stringify(res.jsonBody)).not.toMatch(/\n\s+at /);
  }, 60_000);
});
