// The Durable Functions HTTP surface of the host: the client binding data handed to durable
// clients (webhook URL templates carrying the system key) and the management API under
// /runtime/webhooks/durabletask/ (start, status, list, raise event, terminate, suspend, resume,
// purge), answered in the shapes the Durable extension uses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HostError, sendJson as json, sendProblem } from '../errors.js';
import type { DurableEngine } from './engine.js';
import { EVENT_TYPE_NAMES, EventType, parseJson, type HistoryEvent } from './history.js';
import type { InstanceRow, RuntimeStatus } from './store.js';

export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
const INSTANCE_PLACEHOLDER = 'INSTANCEID';

/**
 * The durable client binding data, as the Durable extension gives it to out-of-process SDKs:
 * webhook URL templates for the management HTTP API (no `rpcBaseUrl`, so every client call
 * goes through the public `/runtime/webhooks/durabletask/` API of this host).
 */
export function durableClientData(origin: string, hub: string, systemKey: string): Record<string, unknown> {
  const base = `${origin}${WEBHOOK_PATH}`;
  const required = `taskHub=${encodeURIComponent(hub)}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
  const instance = `${base}/instances/${INSTANCE_PLACEHOLDER}`;
  return {
    taskHubName: hub,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?code=${encodeURIComponent(systemKey)}`,
      waitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=${encodeURIComponent(systemKey)}`,
    },
    managementUrls: {
      id: INSTANCE_PLACEHOLDER,
      statusQueryGetUri: `${instance}?${required}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${required}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${required}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${required}`,
      purgeHistoryDeleteUri: `${instance}?${required}`,
      restartPostUri: `${instance}/restart?${required}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${required}`,
      resumePostUri: `${instance}/resume?reason={text}&${required}`,
    },
    baseUrl: base,
    requiredQueryStringParameters: required,
  };
}

function managementPayload(origin: string, hub: string, systemKey: string, id: string): Record<string, string> {
  const urls = durableClientData(origin, hub, systemKey).managementUrls as Record<string, string>;
  return Object.fromEntries(Object.entries(urls).map(([k, v]) => [k, v.replace(INSTANCE_PLACEHOLDER, encodeURIComponent(id))]));
}

/** The history view of the status API: the stored events, without the episode markers. */
function historyView(events: HistoryEvent[], withOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    if (e.EventType === EventType.OrchestratorStarted || e.EventType === EventType.OrchestratorCompleted) continue;
    if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated) {
      scheduled.set(e.EventId, e);
    }
    const view: Record<string, unknown> = { EventType: EVENT_TYPE_NAMES[e.EventType], Timestamp: e.Timestamp };
    if (e.EventId >= 0) view.EventId = e.EventId;
    const source = e.TaskScheduledId !== undefined ? scheduled.get(e.TaskScheduledId) : undefined;
    if (e.Name ?? source?.Name) view.FunctionName = e.Name ?? source?.Name;
    if (e.EventType === EventType.EventRaised) view.Name = e.Name;
    if (e.TaskScheduledId !== undefined) {
      view.TaskScheduledId = e.TaskScheduledId;
      if (source) view.ScheduledTime = source.Timestamp;
    }
    if (e.TimerId !== undefined) view.TimerId = e.TimerId;
    if (e.FireAt) view.FireAt = e.FireAt;
    if (e.InstanceId) view.InstanceId = e.InstanceId;
    if (e.OrchestrationStatus) view.OrchestrationStatus = e.OrchestrationStatus;
    if (e.Reason) view.Reason = e.Reason;
    if (withOutput) {
      if (e.Result !== undefined) view.Result = parseJson(e.Result);
      if (e.Input !== undefined) view.Input = parseJson(e.Input);
      if (e.Details) view.Details = e.Details;
    }
    out.push(view);
  }
  return out;
}

export function statusOf(
  engine: DurableEngine,
  inst: InstanceRow,
  opts: { showInput: boolean; showHistory: boolean; showHistoryOutput: boolean },
): Record<string, unknown> {
  const status: Record<string, unknown> = {
    name: inst.name,
    instanceId: inst.id,
    runtimeStatus: inst.status,
    input: opts.showInput ? parseJson(inst.input) : null,
    customStatus: parseJson(inst.customStatus),
    output: parseJson(inst.output),
    createdTime: new Date(inst.createdAt).toISOString(),
    lastUpdatedTime: new Date(inst.updatedAt).toISOString(),
  };
  if (opts.showHistory) {
    // `historyEvents` is the extension's field; durable-functions' status object reads `history`.
    status.historyEvents = historyView(engine.store.getHistory(inst.id), opts.showHistoryOutput);
    status.history = status.historyEvents;
  }
  return status;
}

const STATUS_CODES: Record<RuntimeStatus, number> = {
  Pending: 202,
  Running: 202,
  ContinuedAsNew: 202,
  Suspended: 202,
  Completed: 200,
  Failed: 400,
  Terminated: 400,
};

function requireJson(text: string, what: string): void {
  if (text === '') return;
  try {
    JSON.parse(text);
  } catch {
    throw new HostError('BadRequest', `${what} must be JSON`, 400);
  }
}

function filterFrom(q: URLSearchParams): { createdFrom?: number; createdTo?: number; statuses?: RuntimeStatus[] } {
  const time = (name: string): number | undefined => {
    const v = q.get(name);
    if (!v) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new HostError('BadRequest', `Query parameter ${name} is not an ISO-8601 time: ${v}`, 400);
    return t;
  };
  const statuses = (q.get('runtimeStatus') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as RuntimeStatus[];
  return { createdFrom: time('createdTimeFrom'), createdTo: time('createdTimeTo'), statuses };
}

/**
 * The Durable Functions HTTP API (start, status, list, raise event, terminate, suspend,
 * resume, purge) under /runtime/webhooks/durabletask/. `rest` is the path after that prefix.
 */
export async function handleDurableApi(
  engine: DurableEngine,
  ctx: { origin: string; hub: string; systemKey: string },
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rest: string,
  body: Buffer,
): Promise<void> {
  const method = req.method ?? 'GET';
  const parts = rest.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const q = url.searchParams;
  const text = body.toString('utf8');
  const flag = (name: string, dflt: boolean): boolean => (q.has(name) ? q.get(name)!.toLowerCase() === 'true' : dflt);
  const origin = ctx.origin;

  if (parts[0] === 'orchestrators' && method === 'POST' && (parts.length === 2 || parts.length === 3)) {
    requireJson(text, 'The request body (the orchestration input)');
    const inst = engine.startNew(parts[1]!, parts[2], text === '' ? undefined : text);
    const payload = managementPayload(origin, ctx.hub, ctx.systemKey, inst.id);
    json(res, 202, payload, { location: payload.statusQueryGetUri!, 'retry-after': '10' });
    return;
  }

  if (parts[0] !== 'instances') throw new HostError('NotFound', `No durable task API at ${url.pathname}`, 404);
  const id = parts[1];
  if (id === undefined) {
    if (method === 'GET') {
      const list = engine.store.listInstances(filterFrom(q));
      const top = Number(q.get('top') ?? 0);
      const page = top > 0 ? list.slice(0, top) : list;
      json(
        res,
        200,
        page.map((i) => statusOf(engine, i, { showInput: flag('showInput', true), showHistory: false, showHistoryOutput: false })),
      );
      return;
    }
    if (method === 'DELETE') {
      const filter = filterFrom(q);
      if (filter.createdFrom === undefined) throw new HostError('BadRequest', 'Purging by filter needs createdTimeFrom', 400);
      const n = engine.purge(engine.store.listInstances(filter).map((i) => i.id));
      if (n === 0) sendProblem(res, 404, 'NotFound', 'No instances matched the filter');
      else json(res, 200, { instancesDeleted: n });
      return;
    }
    throw new HostError('MethodNotAllowed', `${method} is not supported on /instances`, 405);
  }

  const action = parts[2];
  if (action === undefined) {
    if (method === 'GET') {
      const inst = engine.store.getInstance(id);
      if (!inst) {
        sendProblem(res, 404, 'InstanceNotFound', `No instance with ID '${id}' found.`);
        return;
      }
      const status = statusOf(engine, inst, {
        showInput: flag('showInput', true),
        showHistory: flag('showHistory', false),
        showHistoryOutput: flag('showHistoryOutput', false),
      });
      const code = STATUS_CODES[inst.status];
      json(res, code, status, code === 202 ? { location: managementPayload(origin, ctx.hub, ctx.systemKey, id).statusQueryGetUri!, 'retry-after': '10' } : {});
      return;
    }
    if (method === 'DELETE') {
      const inst = engine.store.getInstance(id);
      if (!inst) {
        sendProblem(res, 404, 'InstanceNotFound', `No instance with ID '${id}' found.`);
        return;
      }
      if (engine.purge([id]) === 0) {
        throw new HostError('InstanceRunning', `Instance '${id}' is ${inst.status}; only completed, failed or terminated instances can be purged`, 409);
      }
      json(res, 200, { instancesDeleted: 1 });
      return;
    }
    throw new HostError('MethodNotAllowed', `${method} is not supported on an instance`, 405);
  }

  if (method !== 'POST') throw new HostError('MethodNotAllowed', `${action} needs POST`, 405);
  let outcome: 'accepted' | 'notFound' | 'gone';
  if (action === 'raiseEvent' && parts[3]) {
    requireJson(text, 'The event data');
    outcome = engine.raiseEvent(id, parts[3], text === '' ? undefined : text);
  } else if (action === 'terminate' || action === 'suspend' || action === 'resume') {
    outcome = engine.control(id, action, q.get('reason') ?? '');
  } else if (action === 'rewind' || action === 'restart') {
    throw new HostError('NotImplemented', `The ${action} operation is not modelled by this host`, 501);
  } else {
    throw new HostError('NotFound', `Unknown instance operation '${action}'`, 404);
  }
  if (outcome === 'notFound') sendProblem(res, 404, 'InstanceNotFound', `No instance with ID '${id}' found.`);
  else if (outcome === 'gone') sendProblem(res, 410, 'InstanceCompleted', `Instance '${id}' is already in a final state.`);
  else {
    res.writeHead(202, { 'content-length': '0' });
    res.end();
  }
}
