// `workforce send <topic> --operation … --count N`: publishes control messages straight to Service
// Bus, for teams without the control plane. It builds and publishes them with the control plane's
// own code (drainMessages, publishBatches), so agents cannot tell the two apart.

import { randomUUID } from 'node:crypto';
import type { ServiceBusClient } from '@azure/service-bus';
import { DRAIN_ID_RULE, isDrainId, OPERATIONS } from '@workforce/worker-agent/contract';
import { type BusTransport, busHost, bypassesProxy, parseProxyUrl, webSocketOptions } from '@workforce/worker-agent/transport';
import { missingClaim, refusalReason, retryUnlessRefused } from '../../adapters/bus-refusal.js';
import { lastAttempt, newServiceBusClient, publishBatches } from '../../adapters/service-bus.js';
import { isNamespaceHost, type ServiceBusAccess } from '../../config.js';
import { drainMessages, type DrainSpecWithId } from '../../domain/drain-plan.js';
import { DEFAULT_ACK_TIMEOUT_MS } from '../../domain/drain-request.js';
import { parseDuration } from '../../domain/durations.js';
import { CliError, EXIT, usageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { count, duration, isInstant, oneOf, parse, whoami } from '../options.js';

export const SEND_HELP = `workforce send <topic> --operation OP --count N [options]

Publishes N control messages on <topic> straight to Service Bus (no control plane; nothing tracks
the drain: read the reports queue or the agents' logs).

  --operation OP          graceful-downscale | do-not-accept-new-tasks                (required)
  --count N               how many nodes                                              (required)
  --deadline D            duration or ISO instant (graceful-downscale only)
  --not-after D           duration or ISO instant (default 15m); also the messages' TTL
  --reason TEXT --requested-by WHO --drain-id ID
  --connection-string CS  or WORKFORCE_SERVICEBUS_CONNECTION_STRING
                          (or WORKFORCE_BACK_CHANNEL_CONNECTION_STRING, as the agent reads it)
  --namespace NS          or WORKFORCE_SERVICEBUS_NAMESPACE: <ns>.servicebus.windows.net (or
                          host:port, the emulator's AMQPS listener) with DefaultAzureCredential
                          (needs Azure Service Bus Data Sender on the topic)
  --websockets            or WORKFORCE_WEBSOCKETS=1: AMQP over WebSockets (wss, port 443 or the
                          connection string's) instead of AMQP on 5671
  --proxy URL             HTTP CONNECT proxy of --websockets (else HTTPS_PROXY, unless NO_PROXY
                          lists the host)
  --json
`;

const OPTIONS = {
  json: { type: 'boolean' },
  operation: { type: 'string' },
  count: { type: 'string' },
  deadline: { type: 'string' },
  'not-after': { type: 'string' },
  reason: { type: 'string' },
  'requested-by': { type: 'string' },
  'drain-id': { type: 'string' },
  'connection-string': { type: 'string' },
  namespace: { type: 'string' },
  websockets: { type: 'boolean' },
  proxy: { type: 'string' },
} as const;

function at(flag: string, value: string | undefined, now: number): string | undefined {
  if (value === undefined) return undefined;
  if (isInstant(value)) {
    if (Date.parse(value) <= now) throw usageError(`--${flag} ${value} is not in the future`);
    return new Date(Date.parse(value)).toISOString();
  }
  return new Date(now + parseDuration(duration(flag, value)!)!).toISOString();
}

// An interactive command: fail in seconds. One try per SDK call, retried here (twice, 1 s
// apart) unless refused: the SDK retries a missing claim too (for rotated keys), and no retry
// grants a role.
const ONE_TRY = { retryOptions: { maxRetries: 0, timeoutInMs: 15_000 } };
const RETRIES = 2;
const RETRY_DELAY_MS = 1_000;

/** The SDK's codes for a bus that answered no: a missing topic, a role or key without Send. */
const REFUSED = ['MessagingEntityNotFound', 'UnauthorizedAccess', 'UnauthorizedError'];

type BusValues = { 'connection-string'?: string; namespace?: string; websockets?: boolean; proxy?: string };

async function client(values: BusValues, io: Io): Promise<{ sb: ServiceBusClient; access: ServiceBusAccess }> {
  const cs = values['connection-string'] ?? io.env.WORKFORCE_SERVICEBUS_CONNECTION_STRING ?? io.env.WORKFORCE_BACK_CHANNEL_CONNECTION_STRING;
  const ns = values.namespace ?? io.env.WORKFORCE_SERVICEBUS_NAMESPACE;
  if (cs && ns && values['connection-string'] !== undefined && values.namespace !== undefined) throw usageError('give --connection-string or --namespace, not both');
  if (!cs && !ns) throw usageError('send needs Service Bus: pass --connection-string (or set WORKFORCE_SERVICEBUS_CONNECTION_STRING) or --namespace with an Azure login');
  const fqns = ns && namespaceHost(ns);
  const options = { ...ONE_TRY, webSocketOptions: await webSocketOptions(transport(values, io, cs ? busHost(cs) : fqns!)) };
  if (cs) {
    const access: ServiceBusAccess = { kind: 'connectionString', connectionString: cs };
    try {
      return { sb: newServiceBusClient(access, options), access };
    } catch (err) {
      throw usageError(`the Service Bus connection string is not valid (${(err as Error).message}); copy it from the portal or from \`npm start\``);
    }
  }
  const access: ServiceBusAccess = { kind: 'identity', fullyQualifiedNamespace: fqns! };
  return { sb: newServiceBusClient(access, options), access };
}

/**
 * `--namespace`: a namespace's host (`sb://` and a trailing slash allowed), or a bare name in
 * Azure's public cloud; `host:port` reaches the emulator's AMQPS listener.
 */
function namespaceHost(text: string): string {
  const host = text.trim().replace(/^(sb|amqps?|https?):\/\//i, '').replace(/\/+$/, '');
  const fqns = /[.:]/.test(host) ? host : `${host}.servicebus.windows.net`;
  if (!isNamespaceHost(fqns)) throw usageError(`--namespace ${JSON.stringify(text)} is not a namespace: give <ns>.servicebus.windows.net (or host:port)`);
  return fqns;
}

/** As the agent reads it: --proxy, else HTTPS_PROXY unless NO_PROXY lists the host; only with WebSockets. */
function transport(values: BusValues, io: Io, host: string): BusTransport {
  const env = io.env.WORKFORCE_WEBSOCKETS?.trim().toLowerCase();
  if (env !== undefined && env !== '' && !['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off'].includes(env)) {
    throw usageError(`WORKFORCE_WEBSOCKETS must be true or false, got ${JSON.stringify(io.env.WORKFORCE_WEBSOCKETS)}`);
  }
  const webSockets = values.websockets ?? ['1', 'true', 'yes', 'on'].includes(env ?? '');
  if (!webSockets) {
    if (values.proxy !== undefined) throw usageError('--proxy applies to AMQP over WebSockets only: add --websockets');
    return { webSockets };
  }
  const fromEnv = io.env.HTTPS_PROXY || io.env.https_proxy || undefined;
  const proxy = values.proxy ?? (fromEnv && !bypassesProxy(host, io.env.NO_PROXY ?? io.env.no_proxy) ? fromEnv : undefined);
  if (proxy === undefined) return { webSockets };
  try {
    return { webSockets, proxy: parseProxyUrl(proxy, values.proxy !== undefined ? '--proxy' : 'HTTPS_PROXY') };
  } catch (err) {
    throw usageError((err as Error).message);
  }
}

export async function sendCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parse('send', args, OPTIONS, ['topic']);
  if (values.help) {
    io.out(SEND_HELP);
    return EXIT.ok;
  }
  const topic = positionals[0]!;
  if (values.operation === undefined) throw usageError(`--operation is required: one of ${OPERATIONS.join(', ')}`);
  const operation = oneOf('operation', values.operation, OPERATIONS)!;
  const n = count('count', values.count);
  if (values.deadline !== undefined && operation !== 'graceful-downscale') throw usageError('--deadline applies to graceful-downscale only');
  const drainId = values['drain-id'];
  if (drainId !== undefined && !isDrainId(drainId)) throw usageError(`--drain-id ${JSON.stringify(drainId)} must be ${DRAIN_ID_RULE}`);
  const now = io.now();
  const notAfter = at('not-after', values['not-after'], now) ?? new Date(now + DEFAULT_ACK_TIMEOUT_MS).toISOString();
  const deadline = at('deadline', values.deadline, now);
  const spec: DrainSpecWithId = {
    drainId: drainId ?? randomUUID(),
    topic,
    mode: operation,
    count: n,
    ...(deadline !== undefined && { deadline }),
    notAfter,
    ...(values.reason !== undefined && { reason: values.reason }),
    requestedBy: values['requested-by'] ?? whoami(io.env),
    requestedAt: new Date(now).toISOString(),
  };
  if (deadline !== undefined && Date.parse(spec.notAfter) > Date.parse(deadline)) throw usageError('--not-after must not be after --deadline');

  const envelopes = drainMessages(spec, undefined, new Date(now));
  const { sb, access } = await client(values, io);
  try {
    await retryUnlessRefused(() => publishBatches(sb, topic, envelopes), RETRIES, RETRY_DELAY_MS);
  } catch (err) {
    const claim = missingClaim(err);
    if (claim !== undefined) throw new CliError(EXIT.refused, `send to ${topic} refused: ${refusalReason(claim, access, `topic '${topic}'`, 'your')}`);
    const e = lastAttempt(err) as { code?: string; message?: string };
    // A socket error is the bus being unreachable, not a role or key problem.
    const socket = /\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN) \S*?([\w.-]+:\d+)?$/m.exec(String(e.message ?? ''));
    const what = e.code === 'MessagingEntityNotFound' || e.code === 'MessagingEntityNotFoundError'
      ? `topic ${topic} does not exist — create it with \`workforce topic ensure ${topic}\``
      : socket
      ? `Service Bus cannot be reached${socket[2] ? ` at ${socket[2]}` : ''} (${socket[1]}) — is it running (\`npm start\` locally)? check the connection string's Endpoint or --namespace`
      : `${e.code ? `${e.code}: ` : ''}${String(e.message ?? e).split('\n')[0]} — check the connection string or namespace and your role (Azure Service Bus Data Sender)`;
    throw new CliError(REFUSED.includes(e.code ?? '') ? EXIT.refused : EXIT.unreachable, `send to ${topic} failed: ${what}`);
  } finally {
    await sb.close().catch(() => {});
  }
  if (values.json) {
    const messageIds = envelopes.map((e) => e.messageId);
    io.out(`${JSON.stringify({ topic, drainId: spec.drainId, messageIds, message: envelopes[0]!.body }, null, 2)}\n`);
  } else io.out(`sent ${n} x ${operation} on ${topic} (drain id ${spec.drainId}, nodes may take them until ${spec.notAfter})\n`);
  return EXIT.ok;
}
