// Thin adapter over @azure/service-bus: one client per worker process, built from the config.
// The app and `workforce send` publish through it, so both send the same messages.

import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient, isServiceBusError, type ServiceBusClientOptions, type ServiceBusMessage, type ServiceBusReceivedMessage, type ServiceBusReceiver } from '@azure/service-bus';
import { lastAttempt, missingClaim, type Claim, type CommandEnvelope, type ControlMessageEnvelope } from '@workforce/worker-agent/contract';
import type { ServiceBusAccess } from '../config.js';

/** What the SDK's last attempt failed with (its AggregateError after retries has no message). */
export { lastAttempt };

/** A new client for the access; the caller closes it. */
export function newServiceBusClient(access: ServiceBusAccess, options?: ServiceBusClientOptions): ServiceBusClient {
  if (access.kind === 'connectionString') return new ServiceBusClient(access.connectionString, options);
  const credential = access.clientId ? new ManagedIdentityCredential({ clientId: access.clientId }) : new DefaultAzureCredential();
  return new ServiceBusClient(access.fullyQualifiedNamespace, credential, options);
}

/**
 * Who uses a shared client: HTTP requests, or the activities (publish, withdraw). Each has its own
 * connection because the SDK recovers a dropped connection only once every link that was opening
 * on it has finished: a link whose claim (CBS put-token) was on the wire waits out the SDK's fixed
 * 60 s, and every new link of that client waits with it, whatever its abort signal. A request
 * must not wait behind a publish.
 */
export type ClientUse = 'requests' | 'activities';

/**
 * Client options for callers that retry themselves (bus-refusal.ts `retryUnlessRefused`): one
 * try per SDK call. The activities do, so that a missing role fails at once. So do requests:
 * their check (`topicExists`) answers within 5 s, before the SDK's first retry (30 s) could, and
 * a refusal must come back at once to be answered 403.
 */
export const ONE_TRY: ServiceBusClientOptions = { retryOptions: { maxRetries: 0 } };
const OPTIONS: Record<ClientUse, ServiceBusClientOptions> = { requests: ONE_TRY, activities: ONE_TRY };

const shared = new Map<ClientUse, { key: string; client: ServiceBusClient }>();

/** The worker process's client for the access and the use, kept for the life of the process. */
export function serviceBusClient(access: ServiceBusAccess, use: ClientUse): ServiceBusClient {
  const key = JSON.stringify(access);
  let entry = shared.get(use);
  if (entry?.key !== key) {
    entry = { key, client: newServiceBusClient(access, OPTIONS[use]) };
    shared.set(use, entry);
  }
  return entry.client;
}

function toMessage(envelope: ControlMessageEnvelope): ServiceBusMessage {
  return {
    body: envelope.body,
    messageId: envelope.messageId,
    subject: envelope.subject,
    contentType: envelope.contentType,
    timeToLive: envelope.timeToLive,
  };
}

/**
 * Sends the messages to a queue or topic in as few batches as fit: one `createMessageBatch` round
 * trip per batch. Returns the number of batches. `noun` names the messages in the error for one
 * that fits no batch.
 */
export async function sendBatches(client: ServiceBusClient, entity: string, messages: readonly ServiceBusMessage[], noun = 'message'): Promise<number> {
  const sender = client.createSender(entity);
  const tooLarge = (message: ServiceBusMessage, max: number) => new Error(`${noun} ${String(message.messageId)} is larger than a whole batch (${max} bytes)`);
  try {
    let batches = 0;
    let batch = await sender.createMessageBatch();
    for (const message of messages) {
      if (batch.tryAddMessage(message)) continue;
      if (batch.count === 0) throw tooLarge(message, batch.maxSizeInBytes);
      await sender.sendMessages(batch);
      batches++;
      batch = await sender.createMessageBatch();
      if (!batch.tryAddMessage(message)) throw tooLarge(message, batch.maxSizeInBytes);
    }
    if (batch.count > 0) {
      await sender.sendMessages(batch);
      batches++;
    }
    return batches;
  } catch (err) {
    throw lastAttempt(err);
  } finally {
    await sender.close();
  }
}

/**
 * Publishes a drain's control messages (`sendBatches`). Resending the same messageIds is harmless
 * on a topic with duplicate detection, which is what makes a retried publish activity safe.
 */
export function publishBatches(client: ServiceBusClient, topic: string, envelopes: readonly ControlMessageEnvelope[]): Promise<number> {
  return sendBatches(client, topic, envelopes.map(toMessage), 'control message');
}

/**
 * Publishes a targeted drain's commands to the topic's commands queue, each to its node's session
 * (`sessionId`). Duplicate detection on the queue makes a retried publish harmless, as on the topic.
 */
export function publishCommands(client: ServiceBusClient, queue: string, envelopes: readonly CommandEnvelope[]): Promise<number> {
  return sendBatches(
    client,
    queue,
    envelopes.map((e) => ({ body: e.body, sessionId: e.sessionId, messageId: e.messageId, subject: e.subject, contentType: e.contentType, timeToLive: e.timeToLive })),
    'command',
  );
}

/**
 * Whether the topic (or queue) exists, asked the way the publish will use it: a sender link, which Service
 * Bus refuses with MessagingEntityNotFound for a topic that does not exist (no management rights
 * needed), and with a missing claim (`{ refused }`) for an identity without Send on it.
 * `undefined` when the bus could not tell within `timeoutMs` or failed otherwise: the
 * caller goes on, and the publish activity's retries deal with a bus that is briefly away.
 * The answer comes within `timeoutMs` whatever the SDK does: a link opening while the client
 * recovers a dropped connection waits for the recovery despite the abort signal, and a link whose
 * detach is on the wire when the connection drops never finishes closing (rhea-promise 3), so the
 * sender is closed without waiting.
 */
export async function topicExists(client: ServiceBusClient, topic: string, timeoutMs = 5_000): Promise<boolean | { refused: Claim } | undefined> {
  const sender = client.createSender(topic);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve(undefined);
    }, timeoutMs);
  });
  const asked = sender.createMessageBatch({ abortSignal: abort.signal }).then(
    () => true,
    (err: unknown) => {
      if (isServiceBusError(err) && err.code === 'MessagingEntityNotFound') return false;
      const claim = missingClaim(err);
      return claim === undefined ? undefined : { refused: claim };
    },
  );
  try {
    return await Promise.race([asked, deadline]);
  } finally {
    clearTimeout(timer);
    void sender.close().catch(() => {});
  }
}

/**
 * Takes back a drain's control messages that no node has taken yet: receives from the
 * subscription, completes this drain's own messages and abandons the others at once.
 * Messages an agent holds (locked or deferred) are not visible, so they are never touched.
 * Abandoning another drain's message costs it one delivery count; that is the price of
 * Service Bus having no "delete by id".
 * `withdrawn` collects the messageIds across tries: a try that fails after completing some
 * has taken them back all the same (returned: every id so far, `max` at most).
 */
export async function withdrawMessages(
  client: ServiceBusClient,
  topic: string,
  subscription: string,
  drainId: string,
  max: number,
  withdrawn: string[] = [],
): Promise<string[]> {
  const receiver = client.createReceiver(topic, subscription, { receiveMode: 'peekLock' });
  try {
    await takeDrainMessages(receiver, drainId, withdrawn, { rounds: 100, batch: Math.min(100, max * 2), waitMs: 1_000, max });
    return withdrawn;
  } catch (err) {
    throw lastAttempt(err);
  } finally {
    await receiver.close();
  }
}

/**
 * Takes back a targeted drain's commands that no node has taken: accepts each named node's session
 * on the commands queue (briefly), completes this drain's messages and leaves the others. A session
 * its agent holds cannot be locked: that node is connected and takes (or refuses) its command
 * itself, so it is skipped. Returns the messageIds withdrawn, into `withdrawn` across tries as
 * withdrawMessages does.
 */
export async function withdrawCommands(client: ServiceBusClient, queue: string, drainId: string, nodes: readonly string[], withdrawn: string[] = []): Promise<string[]> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < nodes.length) {
      const nodeId = nodes[next++]!;
      let receiver;
      try {
        receiver = await client.acceptSession(queue, nodeId, { receiveMode: 'peekLock', abortSignal: AbortSignal.timeout(5_000) });
      } catch (err) {
        if (isServiceBusError(err) && (err.code === 'SessionCannotBeLocked' || err.code === 'ServiceTimeout')) continue;
        throw err;
      }
      try {
        await takeDrainMessages(receiver, drainId, withdrawn, { rounds: 10, batch: 10, waitMs: 500 });
      } finally {
        await receiver.close().catch(() => {});
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, nodes.length) }, worker));
  return withdrawn;
}

/**
 * Receives from `receiver` round by round, completing the messages of `drainId` (`<drainId>/<n>`,
 * pushed onto `withdrawn`) and abandoning the others at once; stops at an empty round, a round
 * with none of the drain's, or `max` withdrawn.
 */
async function takeDrainMessages(
  receiver: ServiceBusReceiver,
  drainId: string,
  withdrawn: string[],
  limits: { rounds: number; batch: number; waitMs: number; max?: number },
): Promise<void> {
  const ours = (m: ServiceBusReceivedMessage) => String(m.messageId ?? '').startsWith(`${drainId}/`);
  for (let round = 0; round < limits.rounds && withdrawn.length < (limits.max ?? Infinity); round++) {
    const got = await receiver.receiveMessages(limits.batch, { maxWaitTimeInMs: limits.waitMs });
    if (got.length === 0) break;
    for (const m of got) {
      if (ours(m)) {
        await receiver.completeMessage(m);
        withdrawn.push(String(m.messageId));
      } else {
        await receiver.abandonMessage(m);
      }
    }
    if (!got.some(ours)) break;
  }
}
