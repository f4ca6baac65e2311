import { startEmulator } from '@workforce/servicebus-emulator';
import { ServiceBusClient } from '@azure/service-bus';
import { ServiceBusControlBus } from '../src/servicebus.js';
const em = await startEmulator({ port: 0 });
em.catalogue.putTopic('t'); em.catalogue.putSubscription('t', 'shutdown', {});
const bus = await ServiceBusControlBus.create({ bus: { kind: 'connection-string', connectionString: em.connectionString }, topic: 't', subscription: 'shutdown', maxLockRenewalMs: 300000 });
const client = new ServiceBusClient(em.connectionString);
const sender = client.createSender('t');
await sender.sendMessages({ body: 'warm' });
const w = await bus.receiveOne(new AbortController().signal); await bus.complete(w!);
for (let i = 0; i < 10; i++) {
  const ac = new AbortController();
  const recv = bus.receiveOne(ac.signal);
  await new Promise((r) => setTimeout(r, 50));
  const t0 = process.hrtime.bigint();
  await sender.sendMessages({ body: { operation: 'graceful-downscale' } });
  const t1 = process.hrtime.bigint();
  const m = await recv;
  const t2 = process.hrtime.bigint();
  await bus.defer(m!, { 'workforce-owner': 'x' });
  const t3 = process.hrtime.bigint();
  console.log(`send ${(Number(t1 - t0) / 1e6).toFixed(2)} ms, receive after send start ${(Number(t2 - t0) / 1e6).toFixed(2)} ms, defer ${(Number(t3 - t2) / 1e6).toFixed(2)} ms`);
}
await bus.close(); await client.close(); await em.close();
