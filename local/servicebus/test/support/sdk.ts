// For the suites that drive the emulator through @azure/service-bus: entity names unique per test,
// receiving until the messages a test expects have arrived, and the error an operation failed with.
import { randomUUID } from 'node:crypto';
import { type ServiceBusReceivedMessage, type ServiceBusReceiver, isServiceBusError } from '@azure/service-bus';

export const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Receives until `count` messages arrived or `timeoutMs` passed. */
export async function receiveAll(receiver: ServiceBusReceiver, count: number, timeoutMs = 5000): Promise<ServiceBusReceivedMessage[]> {
  const out: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    out.push(...(await receiver.receiveMessages(count - out.length, { maxWaitTimeInMs: 500 })));
  }
  return out;
}

/** The Service Bus error a promise rejected with; undefined when it resolved. */
export async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return isServiceBusError(e) ? { code: e.code, message: e.message } : { code: `not a ServiceBusError: ${String(e)}`, message: String(e) };
  }
}

export const errorCode = async (promise: Promise<unknown>) => (await failure(promise))?.code;
