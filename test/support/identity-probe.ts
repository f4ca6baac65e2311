// A Service Bus client that is whoever its environment says (DefaultAzureCredential: the local
// issuer's managed identity), for the least-privilege tests: `receive <topic> <subscription>` on
// WORKFORCE_SERVICEBUS_NAMESPACE. Prints one JSON line: {"ok":true} or {"ok":false,"code","message"}.

import { DefaultAzureCredential } from '@azure/identity';
import { ServiceBusClient, isServiceBusError } from '@azure/service-bus';

const [command, topic, subscription] = process.argv.slice(2);
const namespace = process.env.WORKFORCE_SERVICEBUS_NAMESPACE;
if (command !== 'receive' || !topic || !subscription || !namespace) {
  process.stderr.write('usage: WORKFORCE_SERVICEBUS_NAMESPACE=host:port identity-probe receive <topic> <subscription>\n');
  process.exit(2);
}

const client = new ServiceBusClient(namespace, new DefaultAzureCredential(), { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
try {
  const receiver = client.createReceiver(topic, subscription);
  await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 });
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (err) {
  const code = isServiceBusError(err) ? err.code : (err as { code?: string }).code;
  process.stdout.write(`${JSON.stringify({ ok: false, code, message: (err as Error).message })}\n`);
} finally {
  await client.close();
}
