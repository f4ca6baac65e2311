// The ARM-compatible management endpoint: HTTPS, because the bearer-token policy of the Azure
// SDKs refuses to send a token over plain HTTP. It serves the Microsoft.ServiceBus resource
// paths of the one emulated namespace (under any subscription, resource group and namespace
// name) on top of the entity catalogue, plus `GET /health`.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Entra } from '../auth/entra.js';
import type { EntityCatalogue } from '../broker/catalogue.js';
import { authenticate, authorize } from './authorization.js';
import { armErrors, toArmError } from './errors.js';
import { expectObject, readEntityProperties, readRuleAction, readRuleFilter, type ReadOptions } from './properties.js';
import {
  namespaceResource,
  queueResource,
  ruleResource,
  subscriptionResource,
  topicResource,
  type ArmResource,
  type NamespaceDescription,
  type NamespaceRef,
} from './resources.js';
import { parseRoute, type Route } from './routes.js';

export const DEFAULT_ARM_PORT = 5443;
/** The official emulator's namespace name, used where a list has to name the namespace. */
export const DEFAULT_NAMESPACE_NAME = 'sbemulatorns';
const MAX_BODY_BYTES = 1024 * 1024;

export interface ArmServerOptions {
  catalogue: EntityCatalogue;
  certificate: { certPem: string; keyPem: string };
  /** Default 5443; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1: without `entra`, any bearer token is accepted, so keep it off other interfaces. */
  host?: string;
  /** Validate bearer tokens (issuer, keys, ARM audience, lifetime) and roles (see authorization.ts). */
  entra?: Entra;
  /** Host name in the URL that clients use; default `localhost` (the certificate's name). */
  urlHost?: string;
  namespace: NamespaceDescription;
  /** Name reported by the namespace list operations; default `sbemulatorns`. */
  namespaceName?: string;
  /** Extra fields for `GET /health`. */
  health?: () => Record<string, unknown>;
  log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

export interface ArmServer {
  /** `https://localhost:<port>`: the `endpoint` for ServiceBusManagementClient. */
  url: string;
  healthUrl: string;
  port: number;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
}

export async function startArmServer(options: ArmServerOptions): Promise<ArmServer> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer(
    { cert: options.certificate.certPem, key: options.certificate.keyPem, minVersion: 'TLSv1.2' },
    (req, res) => void serve(options, req, res),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_ARM_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${options.urlHost ?? 'localhost'}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    healthUrl: `${url}/health`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function serve(options: ArmServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'https://localhost');
  let reply: Reply;
  try {
    reply = await handle(options, method, url, req);
  } catch (error) {
    const armError = toArmError(error);
    if (armError.status >= 500) options.log?.('warn', 'arm request failed', { method, path: url.pathname, error: String(error) });
    reply = { status: armError.status, body: armError.toJSON() };
    if (armError.status === 401) {
      res.setHeader('WWW-Authenticate', `Bearer error="invalid_token", error_description="${armError.message}"`);
    }
  }
  options.log?.('info', 'arm request', { method, path: url.pathname, status: reply.status });
  res.setHeader('x-ms-request-id', requestId);
  res.setHeader('x-ms-correlation-request-id', requestId);
  const clientRequestId = req.headers['x-ms-client-request-id'];
  if (typeof clientRequestId === 'string') res.setHeader('x-ms-client-request-id', clientRequestId);
  if (reply.body === undefined) {
    res.writeHead(reply.status).end();
    return;
  }
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function handle(options: ArmServerOptions, method: string, url: URL, req: IncomingMessage): Promise<Reply> {
  if (url.pathname.replace(/\/+$/, '') === '/health') {
    if (method !== 'GET' && method !== 'HEAD') throw armErrors.methodNotAllowed(method, url.pathname);
    return { status: 200, body: { status: 'ok', ...options.health?.() } };
  }
  const caller = authenticate(req.headers.authorization, options.entra, Date.now());
  const route = parseRoute(url.pathname);
  if (!route) throw armErrors.noRoute(url.pathname);
  if (!url.searchParams.has('api-version')) throw armErrors.missingApiVersion();
  if (options.entra && caller !== undefined) authorize(options.entra, caller, route, method, url.pathname.replace(/\/+$/, ''));
  const body = method === 'PUT' ? await readJsonBody(req) : undefined;
  const reply = dispatch(options, route, method, body, url.searchParams);
  if (!reply) throw armErrors.methodNotAllowed(method, url.pathname);
  return reply;
}

const ARM_READ: Omit<ReadOptions, 'path'> = { keyCase: 'camel', durationsAsMs: false, unknownKeys: 'ignore' };

/** The reply for a route and method, or undefined when the method is not served there. */
function dispatch(
  options: ArmServerOptions,
  route: Route,
  method: string,
  body: unknown,
  query: URLSearchParams,
): Reply | undefined {
  const { catalogue } = options;
  const ok = (resource: ArmResource): Reply => ({ status: 200, body: resource });
  const list = (value: ArmResource[]): Reply => ({ status: 200, body: { value: page(value, query) } });
  const deleted = (existed: boolean): Reply => ({ status: existed ? 200 : 204 });
  const nsName = options.namespaceName ?? DEFAULT_NAMESPACE_NAME;

  switch (route.kind) {
    case 'namespaces': {
      if (method !== 'GET') return undefined;
      const ref = { subscriptionId: route.subscriptionId, resourceGroup: route.resourceGroup ?? 'emulator', namespace: nsName };
      return list([namespaceResource(ref, options.namespace)]);
    }
    case 'namespace':
      // Namespaces are fixed: a PUT (create or update) answers with the one that exists.
      if (method === 'GET' || method === 'PUT') return ok(namespaceResource(route.ref, options.namespace));
      return undefined;
    case 'queues':
      return method === 'GET' ? list(catalogue.listQueues().map((q) => queueResource(route.ref, q))) : undefined;
    case 'queue':
      switch (method) {
        case 'GET':
          return ok(queueResource(route.ref, catalogue.getQueue(route.queue) ?? notFound(`Queue '${route.queue}'`, route.ref)));
        case 'PUT': {
          const properties = readEntityProperties('queue', armProperties(body), { path: 'properties', ...ARM_READ });
          return ok(queueResource(route.ref, catalogue.putQueue(route.queue, properties).entity));
        }
        case 'DELETE':
          return deleted(catalogue.deleteQueue(route.queue));
      }
      return undefined;
    case 'topics':
      return method === 'GET' ? list(catalogue.listTopics().map((t) => topicResource(route.ref, t))) : undefined;
    case 'topic':
      switch (method) {
        case 'GET':
          return ok(topicResource(route.ref, catalogue.getTopic(route.topic) ?? notFound(`Topic '${route.topic}'`, route.ref)));
        case 'PUT': {
          const properties = readEntityProperties('topic', armProperties(body), { path: 'properties', ...ARM_READ });
          return ok(topicResource(route.ref, catalogue.putTopic(route.topic, properties).entity));
        }
        case 'DELETE':
          return deleted(catalogue.deleteTopic(route.topic));
      }
      return undefined;
    case 'subscriptions': {
      if (method !== 'GET') return undefined;
      const topic = existingTopic(catalogue, route.topic, route.ref);
      return list(catalogue.listSubscriptions(topic).map((s) => subscriptionResource(route.ref, topic, s)));
    }
    case 'subscription': {
      const topic = existingTopic(catalogue, route.topic, route.ref);
      switch (method) {
        case 'GET': {
          const sub = catalogue.getSubscription(topic, route.subscription);
          return ok(subscriptionResource(route.ref, topic, sub ?? notFound(`Subscription '${route.subscription}' of topic '${topic}'`, route.ref)));
        }
        case 'PUT': {
          const properties = readEntityProperties('subscription', armProperties(body), { path: 'properties', ...ARM_READ });
          return ok(subscriptionResource(route.ref, topic, catalogue.putSubscription(topic, route.subscription, properties).entity));
        }
        case 'DELETE':
          return deleted(catalogue.deleteSubscription(topic, route.subscription));
      }
      return undefined;
    }
    case 'rules': {
      if (method !== 'GET') return undefined;
      const [topic, sub] = existingSubscription(catalogue, route.topic, route.subscription, route.ref);
      return list(catalogue.listRules(topic, sub).map((r) => ruleResource(route.ref, topic, sub, r)));
    }
    case 'rule': {
      const [topic, sub] = existingSubscription(catalogue, route.topic, route.subscription, route.ref);
      switch (method) {
        case 'GET': {
          const rule = catalogue.getRule(topic, sub, route.rule) ?? notFound(`Rule '${route.rule}' of subscription '${topic}/${sub}'`, route.ref);
          return ok(ruleResource(route.ref, topic, sub, rule));
        }
        case 'PUT': {
          const properties = armProperties(body);
          const filter = readRuleFilter(properties, 'properties', 'camel');
          const action = readRuleAction(properties, 'properties', 'camel');
          return ok(ruleResource(route.ref, topic, sub, catalogue.putRule(topic, sub, { name: route.rule, filter, ...(action ? { action } : {}) }).entity));
        }
        case 'DELETE':
          return deleted(catalogue.deleteRule(topic, sub, route.rule));
      }
      return undefined;
    }
  }
}

/** The topic's name as created (names match case-insensitively), or a 404 for the parent. */
function existingTopic(catalogue: EntityCatalogue, name: string, ref: NamespaceRef): string {
  return (catalogue.getTopic(name) ?? notFound(`Topic '${name}'`, ref)).name;
}

function existingSubscription(catalogue: EntityCatalogue, topicName: string, name: string, ref: NamespaceRef): [string, string] {
  const topic = existingTopic(catalogue, topicName, ref);
  const sub = catalogue.getSubscription(topic, name) ?? notFound(`Subscription '${name}' of topic '${topic}'`, ref);
  return [topic, sub.name];
}

function notFound(what: string, ref: NamespaceRef): never {
  throw armErrors.notFound(`${what} in namespace '${ref.namespace}'`);
}

function armProperties(body: unknown): unknown {
  if (body === undefined) return undefined;
  return expectObject(body, 'request body').properties;
}

function page<T>(items: T[], query: URLSearchParams): T[] {
  const skip = Number(query.get('$skip') ?? 0);
  const top = query.has('$top') ? Number(query.get('$top')) : Infinity;
  if (!Number.isInteger(skip) || skip < 0) throw armErrors.badRequest('$skip must be a non-negative integer', '$skip');
  if (top !== Infinity && (!Number.isInteger(top) || top < 1)) throw armErrors.badRequest('$top must be a positive integer', '$top');
  return items.slice(skip, skip + top);
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw armErrors.tooLarge(MAX_BODY_BYTES);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw armErrors.invalidJson((error as Error).message);
  }
}
