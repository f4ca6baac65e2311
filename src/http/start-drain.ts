// Starting a drain or a resume from an HTTP request, once parsed: the topic must exist and the
// app's identity be allowed to send on it (403 `ServiceBusAccessDenied` naming the role); named
// nodes are checked against the fleet inventory (unknown → 400 `UnknownNodes` unless `force`;
// offline or stale → sent, and listed as `unreachable`); the topic's budget is judged (409
// `BudgetExceeded` unless `force`; a resume never counts); a dry run answers the plan with the
// budget verdict and sends nothing; otherwise the drain's nodes are reserved in the topic's
// admission ledger (503 `Unavailable` when concurrent admissions keep winning) and the
// orchestration starts (202).

import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { randomUUID } from 'node:crypto';
import { commandsQueueName } from '@workforce/worker-agent/contract';
import { refusalReason, type Claim } from '../adapters/bus-refusal.js';
import { findDrain, startDrainOnce } from '../adapters/durable.js';
import { serviceBusClient, topicExists } from '../adapters/service-bus.js';
import { config } from '../config.js';
import { describeBudget } from '../domain/budget.js';
import { plannedMessages, type DrainSpecWithId } from '../domain/drain-plan.js';
import { requester, type DrainRequest } from '../domain/drain-request.js';
import { checkTargets, intakeStopped, listIds, MAX_TARGETS, rowsById } from '../domain/drain-targets.js';
import { admit, AdmissionBusy, type Admission } from './drain-admission.js';
import { principalOf } from './principal.js';
import { problem, problemResponse, RETRY_AFTER_SECONDS, retryLater, unexpected } from './problem-response.js';
import { drainUrls } from './urls.js';

/** A parsed drain or resume request; `all` (resume) takes every intake-stopped node of the inventory. */
export type StartRequest = Omit<DrainRequest, 'mode'> & { mode: DrainRequest['mode']; all?: true };

const drainExists = (drainId: string) =>
  problemResponse(problem('DrainExists', 409, 'Drain exists', `a drain with id ${drainId} already exists; choose another drainId or omit it`, 'drainId'));

export async function startDrain(request: HttpRequest, context: InvocationContext, asked: StartRequest): Promise<HttpResponseInit> {
  const { requestedBy: claimed, force, dryRun, all, ...rest } = asked;
  const who = requester(principalOf(request), claimed);
  const spec: DrainSpecWithId = { ...rest, drainId: rest.drainId ?? randomUUID(), ...who };
  const what = spec.mode === 'resume' ? 'resume' : 'drain';
  try {
    // A drain on a topic that does not exist could only fail once its publish retries ran out.
    // Commands go to the topic's commands queue: a topic provisioned before it existed has none.
    // Both are asked at once, so a bus that cannot tell holds the request one check's bound.
    const bus = serviceBusClient(config().serviceBus, 'requests');
    const [topicFound, queueFound] = await Promise.all([
      topicExists(bus, spec.topic),
      spec.nodes !== undefined || all ? topicExists(bus, commandsQueueName(spec.topic)) : undefined,
    ]);
    // Retrying cannot grant a role: a drain that could not be published is refused now, not
    // answered 202 to fail once started.
    const refused = [
      [topicFound, `topic '${spec.topic}'`],
      [queueFound, `queue '${commandsQueueName(spec.topic)}'`],
    ].find((c): c is [{ refused: Claim }, string] => typeof c[0] === 'object');
    if (refused) {
      const reason = refusalReason(refused[0].refused, config().serviceBus, refused[1]);
      context.warn(`${what} on ${spec.topic} refused by Service Bus: ${reason}`);
      return problemResponse(problem('ServiceBusAccessDenied', 403, 'Service Bus refused the app', `this ${what} cannot be published: ${reason}`));
    }
    if (topicFound === false) {
      return problemResponse(
        problem('TopicNotFound', 404, 'Topic not found', `no topic ${spec.topic} on the Service Bus namespace: create it with PUT /api/topics/${spec.topic}`, 'topic'),
      );
    }
    if (queueFound === false) {
      return problemResponse(
        problem('CommandsQueueNotFound', 404, 'Commands queue not found', `topic ${spec.topic} has no commands queue ${commandsQueueName(spec.topic)} (it was provisioned before per-node commands): PUT /api/topics/${spec.topic} again to create it`, 'topic'),
      );
    }
    const client = df.getClient(context);
    // A retried request finds its drain: it is neither judged against its own messages nor reserved again.
    if (!dryRun && rest.drainId !== undefined && (await findDrain(client, spec.drainId))) return drainExists(spec.drainId);
    const now = new Date();
    // What refuses a drain below (a resume is never judged on the budget).
    const unknownRefused = (a: Admission) => !force && a.targets !== undefined && a.targets.unknown.length > 0;
    const budgetRefused = (a: Admission) => !force && a.budget?.exceeded === true;
    let admission: Admission;
    try {
      const startsIf = (a: Admission) => !unknownRefused(a) && !budgetRefused(a);
      admission = await admit(client, spec, now, dryRun ? undefined : { drainId: spec.drainId, startsIf });
    } catch (err) {
      if (err instanceof AdmissionBusy) {
        context.warn(`${what} on ${spec.topic} not admitted now: ${err.message}`);
        return retryLater(problem('Unavailable', 503, 'Briefly unavailable', `the topic's budget could not take this ${what} now (${err.message}); retry in ${RETRY_AFTER_SECONDS} s`));
      }
      // The budget is a safety check: one that cannot run is not passed, unless forced.
      const cause = String((err as Error)?.message ?? err).split('\n')[0];
      if (!force) {
        context.warn(`${what} on ${spec.topic} refused: the fleet inventory could not be read: ${cause}`);
        return retryLater(problem('InventoryUnavailable', 503, 'The fleet inventory is unavailable', `the fleet inventory could not be read (${cause}), so the named nodes and the topic's budget cannot be checked; retry in ${RETRY_AFTER_SECONDS} s, or give force: true to start without the checks`));
      }
      admission = { rows: [], warnings: [`the fleet inventory could not be read (${cause}): node ids and the budget were not checked (force)`] };
    }
    if (all) {
      if (admission.inventory === undefined) {
        return problemResponse(problem('InventoryNotConfigured', 503, 'The fleet inventory is not configured', 'resume with all: true takes the intake-stopped nodes from the fleet inventory, which this app does not keep: name the nodes instead', 'all'));
      }
      const nodes = intakeStopped(admission.rows, now);
      if (nodes.length === 0) return problemResponse(problem('InvalidField', 400, 'Invalid request', `the fleet inventory lists no intake-stopped node of topic ${spec.topic}`, 'all'));
      // One resume names at most MAX_TARGETS nodes: the rest wait for the next one, said so.
      spec.nodes = nodes.slice(0, MAX_TARGETS);
      spec.count = spec.nodes.length;
      const rest = nodes.length - spec.nodes.length;
      admission = {
        ...admission,
        targets: checkTargets(spec.nodes, rowsById(admission.rows), now),
        warnings: [...admission.warnings, ...(rest > 0 ? [`${rest} more intake-stopped node(s) than one resume takes (${MAX_TARGETS}): resume with all: true again once this one ends`] : [])],
      };
    }
    const { targets, budget } = admission;
    if (targets && unknownRefused(admission)) {
      return problemResponse(problem('UnknownNodes', 400, 'Unknown nodes', `the fleet inventory has never seen node(s) ${listIds(targets.unknown)} on topic ${spec.topic}; check the ids (GET /api/topics/${spec.topic}/nodes), or give force: true to send to them all the same`, 'nodes', { unknownNodes: targets.unknown }));
    }
    if (targets && targets.unreachable.length > 0) spec.unreachable = targets.unreachable;
    if (force) {
      spec.forced = true;
      if (who.requestedBy !== undefined) spec.forcedBy = who.requestedBy;
    }
    const answer = {
      ...(spec.unreachable && { unreachable: spec.unreachable }),
      ...(targets && targets.unknown.length > 0 && { unknownNodes: targets.unknown }),
      ...(admission.inventory && { inventory: admission.inventory }),
      ...(budget && { budget }),
      ...(admission.warnings.length > 0 && { warnings: admission.warnings }),
    };
    // A dry run answers the budget verdict (exceeded or not) instead of the 409.
    if (dryRun) {
      context.log(`dry run of a ${what} on ${spec.topic}: ${spec.count} x ${spec.mode}, nothing sent`);
      // A dry run reserves no drain id: the plan shows the one given, if any.
      const shown = rest.drainId !== undefined ? spec : { ...spec, drainId: undefined };
      return { status: 200, jsonBody: { dryRun: true, spec: shown, plan: plannedMessages(shown), ...answer } };
    }
    if (budget && budgetRefused(admission)) {
      const { exceeded: _e, ...figures } = budget;
      return problemResponse(problem('BudgetExceeded', 409, 'Budget exceeded', `this ${what} would take topic ${spec.topic} past its budget: ${describeBudget(budget)}; drain fewer nodes, wait for running drains, or give force: true`, undefined, figures));
    }
    const { started } = await startDrainOnce(client, spec);
    if (!started) return drainExists(spec.drainId);
    context.log(`${what} ${spec.drainId} started: ${spec.count} x ${spec.mode} on ${spec.topic}${spec.nodes ? ` (nodes ${listIds(spec.nodes, 5)})` : ''}${spec.forced ? ', forced' : ''}`);
    const urls = drainUrls(request, spec.drainId);
    return { status: 202, headers: { location: urls.statusUri }, jsonBody: { drainId: spec.drainId, ...urls, spec, ...answer } };
  } catch (err) {
    return unexpected(err, context, `starting ${what} ${spec.drainId}`);
  }
}
