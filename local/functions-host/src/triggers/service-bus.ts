// Service Bus triggers: a function's queue or subscription and connection (a connection string
// or an identity-based namespace), the binding data of each message, and the receivers that
// run the function per message in peek-lock mode (complete on success, abandon on a throw).
import {
  ServiceBusClient,
  type ProcessErrorArgs,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from '@azure/service-bus';
import { resolveSettingExpression } from '../config.js';
import { HostError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FunctionMetadata, RpcInvocationResponse, RpcParameterBinding, RpcTypedData } from '../worker/protocol.js';

export interface ServiceBusFunction {
  name: string;
  triggerName: string;
  /** Name of the app setting (or setting prefix) that holds the connection. */
  connection: string;
  queueName?: string;
  topicName?: string;
  subscriptionName?: string;
  cardinality: 'one' | 'many';
  autoComplete: boolean;
  binary: boolean;
}

export type ServiceBusInvoke = (
  name: string,
  inputData: RpcParameterBinding[],
  triggerMetadata: Record<string, RpcTypedData>,
) => Promise<RpcInvocationResponse>;

export function toServiceBusFunction(
  meta: FunctionMetadata,
  triggerName: string,
  settings: Readonly<Record<string, string>>,
  hostAutoComplete: boolean,
): ServiceBusFunction {
  const b = meta.bindings[triggerName]!;
  const setting = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? resolveSettingExpression(v, settings) : undefined);
  const fn: ServiceBusFunction = {
    name: meta.name,
    triggerName,
    connection: setting(b.connection) ?? 'AzureWebJobsServiceBus',
    queueName: setting(b.queueName),
    topicName: setting(b.topicName),
    subscriptionName: setting(b.subscriptionName),
    cardinality: b.cardinality === 'many' ? 'many' : 'one',
    autoComplete: typeof b.autoCompleteMessages === 'boolean' ? b.autoCompleteMessages : hostAutoComplete,
    binary: b.dataType === 'binary',
  };
  if (!fn.queueName && !(fn.topicName && fn.subscriptionName)) {
    throw new HostError('InvalidFunction', 'a Service Bus trigger needs queueName, or topicName and subscriptionName');
  }
  if (b.isSessionsEnabled === true) {
    throw new HostError('InvalidFunction', 'session-enabled Service Bus triggers are not supported by this host');
  }
  return fn;
}

/**
 * Resolves a trigger's `connection` as the Functions host does: the setting itself holds a
 * connection string, or `<name>__fullyQualifiedNamespace` names a namespace reached with an
 * Azure identity (DefaultAzureCredential, or the `<name>__credential`/`__clientId` settings).
 * The credential finds the identity in this process's environment (IDENTITY_ENDPOINT…), not in
 * the settings: a host with an identity runs with its settings as its environment.
 */
/** What @azure/identity reads to choose the identity (App Service, workload identity, a service principal). */
const IDENTITY_VARIABLES = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_FEDERATED_TOKEN_FILE', 'MSI_ENDPOINT', 'MSI_SECRET'];

export async function createServiceBusClient(connection: string, settings: Readonly<Record<string, string>>): Promise<ServiceBusClient> {
  const direct = settings[connection] ?? settings[`AzureWebJobs${connection}`];
  if (direct) return new ServiceBusClient(direct);
  const namespace = settings[`${connection}__fullyQualifiedNamespace`];
  if (namespace) {
    const elsewhere = IDENTITY_VARIABLES.filter((name) => settings[name] !== undefined && settings[name] !== process.env[name]);
    if (elsewhere.length > 0) {
      throw new HostError(
        'IdentityNotInEnvironment',
        `Service Bus connection "${connection}": the settings give ${elsewhere.join(', ')}, but @azure/identity reads them from this process's environment, where they differ: run the host as its own process with the app's settings as its environment (functions-host, or the local system's identities option)`,
      );
    }
    const identity = await import('@azure/identity');
    const clientId = settings[`${connection}__clientId`];
    const credential =
      settings[`${connection}__credential`] === 'managedidentity'
        ? new identity.ManagedIdentityCredential(clientId ? { clientId } : {})
        : new identity.DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
    return new ServiceBusClient(namespace, credential);
  }
  throw new HostError(
    'MissingSetting',
    `Service Bus connection "${connection}" is not configured: set the app setting ${connection} to a connection string, or ${connection}__fullyQualifiedNamespace to a namespace host name (host:port for another port)`,
  );
}

function bodyData(body: unknown, binary: boolean): RpcTypedData {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    return binary ? { bytes: body } : { string: Buffer.from(body).toString('utf8') };
  }
  if (typeof body === 'string') return { string: body };
  if (body === undefined || body === null) return { string: '' };
  return { json: JSON.stringify(body) };
}

const str = (v: unknown): RpcTypedData => ({ string: String(v) });

/** The binding data the Service Bus extension puts in triggerMetadata (the library camel-cases the names). */
export function messageMetadata(m: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const md: Record<string, RpcTypedData> = {};
  const set = (key: string, value: unknown, make: (v: unknown) => RpcTypedData = str): void => {
    if (value !== undefined && value !== null) md[key] = make(value);
  };
  set('MessageId', m.messageId);
  // The JS SDK passes the AMQP header (prior deliveries, 0 at first); the Functions extension
  // runs on the .NET SDK, which counts this delivery too (1 at first).
  set('DeliveryCount', (m.deliveryCount ?? 0) + 1, (v) => ({ int: Number(v) }));
  set('SequenceNumber', m.sequenceNumber?.toNumber(), (v) => ({ int: Number(v) }));
  set('EnqueuedTimeUtc', m.enqueuedTimeUtc?.toISOString());
  set('EnqueuedTime', m.enqueuedTimeUtc?.toISOString());
  set('ExpiresAtUtc', m.expiresAtUtc?.toISOString());
  set('ExpiresAt', m.expiresAtUtc?.toISOString());
  set('LockedUntilUtc', m.lockedUntilUtc?.toISOString());
  set('LockToken', m.lockToken);
  set('ContentType', m.contentType);
  set('CorrelationId', m.correlationId);
  set('Subject', m.subject);
  set('Label', m.subject);
  set('To', m.to);
  set('ReplyTo', m.replyTo);
  set('ReplyToSessionId', m.replyToSessionId);
  set('SessionId', m.sessionId);
  set('PartitionKey', m.partitionKey);
  set('DeadLetterSource', m.deadLetterSource);
  const props = m.applicationProperties ?? {};
  md.ApplicationProperties = { json: JSON.stringify(props) };
  md.UserProperties = { json: JSON.stringify(props) };
  return md;
}

/**
 * Service Bus queue and topic-subscription triggers over @azure/service-bus, in peek-lock
 * mode: the message is completed when the function succeeds and abandoned when it throws,
 * so that the broker's max delivery count moves a poison message to the dead-letter queue.
 */
function receiverFor(client: ServiceBusClient, fn: ServiceBusFunction): ServiceBusReceiver {
  return fn.queueName
    ? client.createReceiver(fn.queueName, { receiveMode: 'peekLock' })
    : client.createReceiver(fn.topicName!, fn.subscriptionName!, { receiveMode: 'peekLock' });
}

/** How long one batch receive waits for messages. */
const BATCH_WAIT_MS = 1000;
/** A healthy receive returns within its wait plus a round trip (a credit drain); this is far beyond. */
const WATCHDOG_MS = 15_000;

class WatchdogTimeout extends Error {
  override readonly name = 'WatchdogTimeout';
}

function withWatchdog<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WatchdogTimeout(`${what} did not return within ${ms} ms`)), ms);
  });
  return Promise.race([call, watchdog]).finally(() => clearTimeout(timer));
}

export class ServiceBusTriggers {
  #settings: Readonly<Record<string, string>>;
  #logger: Logger;
  #invoke: ServiceBusInvoke;
  #maxConcurrentCalls: number;
  #maxBatchSize: number;
  #clients = new Map<string, ServiceBusClient>();
  /** The batch functions' clients, one each: a hung one is replaced without touching the others. */
  #ownClients = new Set<ServiceBusClient>();
  #receivers: ServiceBusReceiver[] = [];
  #lastError = new Map<string, number>();

  constructor(opts: {
    settings: Readonly<Record<string, string>>;
    logger: Logger;
    invoke: ServiceBusInvoke;
    maxConcurrentCalls: number;
    maxMessageBatchSize: number;
  }) {
    this.#settings = opts.settings;
    this.#logger = opts.logger;
    this.#invoke = opts.invoke;
    this.#maxConcurrentCalls = Math.max(1, opts.maxConcurrentCalls);
    this.#maxBatchSize = Math.max(1, opts.maxMessageBatchSize);
  }

  #stopped = false;
  #loops: Promise<void>[] = [];

  async start(functions: readonly ServiceBusFunction[]): Promise<void> {
    for (const fn of functions) {
      if (fn.cardinality === 'many') {
        const [client, receiver] = await this.#batchReceiver(fn);
        this.#loops.push(this.#batchLoop(fn, client, receiver));
        this.#logger.info(`Service Bus trigger ${fn.name} (batches) listening on ${fn.queueName ?? `${fn.topicName}/${fn.subscriptionName}`}`);
        continue;
      }
      let client = this.#clients.get(fn.connection);
      if (!client) {
        client = await createServiceBusClient(fn.connection, this.#settings);
        this.#clients.set(fn.connection, client);
      }
      const receiver = receiverFor(client, fn);
      this.#receivers.push(receiver);
      receiver.subscribe(
        {
          processMessage: (message) => this.#process(fn, receiver, message),
          processError: async (args) => this.#onError(fn, args),
        },
        { autoCompleteMessages: false, maxConcurrentCalls: this.#maxConcurrentCalls },
      );
      this.#logger.info(`Service Bus trigger ${fn.name} listening on ${fn.queueName ?? `${fn.topicName}/${fn.subscriptionName}`}`);
    }
  }

  async #process(fn: ServiceBusFunction, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage): Promise<void> {
    await this.#run(fn, receiver, [message], bodyData(message.body, fn.binary), messageMetadata(message));
  }

  /**
   * `cardinality: 'many'`: batches of up to maxMessageBatchSize, with the extension's `...Array`
   * metadata. Each receive runs under a watchdog: a call in flight when the connection drops
   * may never settle (amqp/rhea-promise#109), which would stop the trigger for good; on a
   * timeout the function gets a new client and receiver, as the agent does.
   */
  async #batchLoop(fn: ServiceBusFunction, firstClient: ServiceBusClient, firstReceiver: ServiceBusReceiver): Promise<void> {
    let [client, receiver] = [firstClient, firstReceiver];
    while (!this.#stopped) {
      let messages: ServiceBusReceivedMessage[];
      try {
        messages = await withWatchdog(receiver.receiveMessages(this.#maxBatchSize, { maxWaitTimeInMs: BATCH_WAIT_MS }), BATCH_WAIT_MS + WATCHDOG_MS, `a receive for ${fn.name}`);
      } catch (err) {
        if (this.#stopped) return;
        if (err instanceof WatchdogTimeout) {
          this.#logger.warn(`Service Bus trigger ${fn.name}: ${err.message}; reconnecting with a new client`);
          this.#dropClient(client);
          [client, receiver] = await this.#batchReceiver(fn);
          continue;
        }
        this.#onError(fn, { error: err as Error, errorSource: 'receive' } as ProcessErrorArgs);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (messages.length === 0 || this.#stopped) continue;
      const bodies = messages.map((m) => {
        const d = bodyData(m.body, false);
        return d.json !== undefined ? (JSON.parse(d.json!) as unknown) : d.string;
      });
      const metadata: Record<string, RpcTypedData> = {};
      const singles = messages.map(messageMetadata);
      for (const key of new Set(singles.flatMap((m) => Object.keys(m)))) {
        metadata[`${key}Array`] = {
          json: JSON.stringify(singles.map((m) => {
            const v = m[key];
            if (!v) return null;
            return v.json !== undefined ? (JSON.parse(v.json!) as unknown) : (v.int ?? v.string ?? null);
          })),
        };
      }
      await this.#run(fn, receiver, messages, { json: JSON.stringify(bodies) }, metadata);
    }
  }

  async #run(
    fn: ServiceBusFunction,
    receiver: ServiceBusReceiver,
    messages: ServiceBusReceivedMessage[],
    input: RpcTypedData,
    metadata: Record<string, RpcTypedData>,
  ): Promise<void> {
    const ids = messages.map((m) => String(m.messageId)).join(', ');
    let ok = false;
    try {
      const res = await this.#invoke(fn.name, [{ name: fn.triggerName, data: input }], metadata);
      ok = res.result?.status === 'success';
      if (!ok) this.#logger.error(`Service Bus function ${fn.name} failed on message ${ids}: ${res.result?.exception?.message}`);
    } catch (err) {
      this.#logger.error(`Service Bus function ${fn.name} not run for message ${ids}: ${(err as Error).message}`);
    }
    if (ok && !fn.autoComplete) return;
    // A batch is settled as a whole, its messages at once (not one round trip after another).
    await Promise.all(messages.map(async (message) => {
      try {
        // Bounded like a receive: a settlement that never returns would hold the loop forever
        // (the lock then expires and the message comes again).
        await withWatchdog(ok ? receiver.completeMessage(message) : receiver.abandonMessage(message), WATCHDOG_MS, `settling message ${message.messageId}`);
      } catch (err) {
        this.#logger.warn(`Settling message ${message.messageId} for ${fn.name}: ${(err as Error).message}`);
      }
    }));
  }

  #onError(fn: ServiceBusFunction, args: ProcessErrorArgs): void {
    // The SDK retries on its own; report each function's errors at most every 30 s.
    const now = Date.now();
    if (now - (this.#lastError.get(fn.name) ?? 0) < 30_000) return;
    this.#lastError.set(fn.name, now);
    this.#logger.warn(`Service Bus trigger ${fn.name} (${args.errorSource}): ${args.error.message}`);
  }

  /** A client of its own and a receiver for one batch function (replaced whole when it hangs). */
  async #batchReceiver(fn: ServiceBusFunction): Promise<[ServiceBusClient, ServiceBusReceiver]> {
    const client = await createServiceBusClient(fn.connection, this.#settings);
    this.#ownClients.add(client);
    return [client, receiverFor(client, fn)];
  }

  /** Closes a hung client in the background: its links' close would only time out. */
  #dropClient(client: ServiceBusClient): void {
    this.#ownClients.delete(client);
    void client.close().catch(() => {});
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const receivers = this.#receivers.splice(0);
    await Promise.allSettled(receivers.map((r) => r.close()));
    const clients = [...this.#clients.values(), ...this.#ownClients];
    this.#ownClients.clear();
    this.#clients.clear();
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(this.#loops.splice(0));
  }
}
