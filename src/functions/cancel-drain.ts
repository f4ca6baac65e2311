// POST /api/drains/{id}/cancel: asks the orchestration to stop. It withdraws the drain's
// messages that no node has taken yet and ends as `cancelled`; nodes that already took the
// drain keep draining (a signal sent cannot be unsent; `workforce-agent resume` on a node undoes
// an intake stop). 202 when asked, 409 when the drain already ended, 404 when unknown.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { findDrain, raiseDrainEvent } from '../adapters/durable.js';
import { CANCEL_EVENT, type CancelRequest } from '../domain/drain-protocol.js';
import { requester, validateDrainId } from '../domain/drain-request.js';
import { isObj } from '../domain/json.js';
import { drainNotFound } from '../domain/problem.js';
import { jsonBody, problem, problemResponse, unexpected } from '../http/problem-response.js';
import { principalOf } from '../http/principal.js';
import { drainUrls } from '../http/urls.js';

function cancelRequest(body: unknown, principal: string | undefined): CancelRequest | string {
  if (!isObj(body)) return '';
  const { reason, requestedBy, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) return unknown;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1024)) return 'reason';
  if (requestedBy !== undefined && (typeof requestedBy !== 'string' || requestedBy.length > 1024)) return 'requestedBy';
  const who = requester(principal, requestedBy as string | undefined);
  return {
    ...(reason !== undefined && { reason: reason as string }),
    ...(who.requestedBy !== undefined && { by: who.requestedBy }),
    ...(who.requestedFor !== undefined && { for: who.requestedFor }),
  };
}

/** How the drain ended, in the API's words (cancelled, completed…), not the orchestration's runtime status. */
function endedDetail(drainId: string, status: { runtimeStatus: unknown; customStatus?: unknown; output?: unknown }): string {
  const summary = (status.output as { summary?: { status?: string; cancelledBy?: string } } | undefined)?.summary ?? (status.customStatus as { status?: string; cancelledBy?: string } | undefined);
  const ended = typeof summary?.status === 'string' && summary.status !== 'running' ? summary.status : String(status.runtimeStatus).toLowerCase();
  if (ended === 'cancelled') return `drain ${drainId} was already cancelled${summary?.cancelledBy ? ` by ${summary.cancelledBy}` : ''}; there is nothing to cancel`;
  return `drain ${drainId} already ended (${ended}); there is nothing to cancel`;
}

export async function cancelDrain(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = validateDrainId(request.params.id ?? '');
  if (!id.ok) return problemResponse(id.problem);
  const body = await jsonBody(request);
  if (!body.ok) return problemResponse(body.problem);
  const cancel = cancelRequest(body.value, principalOf(request));
  if (typeof cancel === 'string') {
    return problemResponse(problem('InvalidField', 400, 'Invalid request', `the body may hold only "reason" and "requestedBy", strings of at most 1024 characters (problem: ${cancel || 'body'})`, cancel));
  }
  try {
    const client = df.getClient(context);
    const status = await findDrain(client, id.value);
    if (!status) return problemResponse(drainNotFound(id.value));
    if (!['Running', 'Pending', 'ContinuedAsNew'].includes(String(status.runtimeStatus))) {
      return problemResponse(problem('DrainEnded', 409, 'Drain already ended', endedDetail(id.value, status), 'id'));
    }
    await raiseDrainEvent(client, id.value, CANCEL_EVENT, cancel);
    context.log(`drain ${id.value}: cancel requested by ${cancel.by ?? 'unknown'}`);
    return { status: 202, jsonBody: { drainId: id.value, cancelling: true, ...drainUrls(request, id.value) } };
  } catch (err) {
    return unexpected(err, context, `cancelling drain ${id.value}`);
  }
}

app.http('cancelDrain', {
  route: 'drains/{id}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: cancelDrain,
});
