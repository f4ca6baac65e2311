// The drain orchestration (instance id = drainId) and its activities: publish the control
// messages, fold agent reports (external events) into per-node progress shown as custom status,
// end as completed, timed-out or cancelled. Time only from context.df.currentUtcDateTime.

import type { InvocationContext } from '@azure/functions';
import type { ServiceBusClient } from '@azure/service-bus';
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { commandsQueueName, parseAgentReport } from '@workforce/worker-agent/contract';
import { episodesInHistory, eventsInHistory } from '../adapters/durable.js';
import { missingClaim, refusalReason, retryUnlessRefused } from '../adapters/bus-refusal.js';
import { publishBatches, publishCommands, serviceBusClient, withdrawCommands, withdrawMessages } from '../adapters/service-bus.js';
import { config, REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../config.js';
import { judge } from '../domain/drain-end.js';
import { parseDrainInput, type DrainInput, type Published } from '../domain/drain-input.js';
import { commandMessages, drainMessages } from '../domain/drain-plan.js';
import { applyReports, foreignReport, newProgress, type DrainProgress, type DrainStatus } from '../domain/drain-progress.js';
import {
  CANCEL_EVENT,
  DRAIN_ORCHESTRATOR,
  isRefused,
  PUBLISH_DRAIN,
  REPORT_EVENT,
  WITHDRAW_DRAIN,
  type CancelRequest,
  type DrainOutput,
  type PublishInput,
  type Refused,
  type WithdrawInput,
} from '../domain/drain-protocol.js';
import { summarize, type DrainEnd } from '../domain/drain-status.js';

/**
 * Folds one `report` event: the reports of one Service Bus batch for this drain (an array), or
 * one report (raised by the trigger of an earlier version). Returns the states folded.
 */
function foldReports(context: OrchestrationContext, progress: DrainProgress, raised: unknown, targets: readonly string[] | undefined): number {
  const ignored: string[] = [];
  let states = 0;
  for (const item of Array.isArray(raised) ? raised : [raised]) {
    const parsed = parseAgentReport(item);
    const why = parsed.ok ? foreignReport(progress, parsed.value, targets) : parsed.error.message;
    if (parsed.ok && why === undefined) states += applyReports(progress, [parsed.value], targets);
    else ignored.push(why!);
  }
  if (ignored.length > 0 && !context.df.isReplaying) {
    context.warn(`drain ${progress.drainId}: ${ignored.length} report(s) ignored; the first: ${ignored[0]}`);
  }
  return states;
}

// ---- activities

/**
 * Runs an activity's Service Bus work on the activities' client (one try per SDK call), retried
 * as the SDK would except for a refusal, which comes back as `Refused` naming the right and the
 * entity (`entity`: "topic 'x'") instead of being retried.
 */
async function unlessRefused<T>(entity: string, context: InvocationContext, work: (client: ServiceBusClient) => Promise<T>): Promise<T | Refused> {
  const access = config().serviceBus;
  try {
    return await retryUnlessRefused(() => work(serviceBusClient(access, 'activities')));
  } catch (err) {
    const claim = missingClaim(err);
    if (claim === undefined) throw err;
    const refused = refusalReason(claim, access, entity);
    context.error(`refused by Service Bus: ${refused}`);
    return { refused };
  }
}

export async function publishDrain(input: PublishInput, context: InvocationContext): Promise<Published | Refused> {
  if (input.spec.nodes !== undefined) {
    const commands = commandMessages(input.spec, REPORTS_QUEUE, new Date(input.now));
    const queue = commandsQueueName(input.spec.topic);
    const batches = await unlessRefused(`queue '${queue}'`, context, (client) => publishCommands(client, queue, commands));
    if (isRefused(batches)) return batches;
    context.log(`drain ${input.spec.drainId}: published ${commands.length} command(s) on ${queue} in ${batches} batch(es)`);
    return { messages: commands.length, batches, at: input.now };
  }
  const envelopes = drainMessages(input.spec, REPORTS_QUEUE, new Date(input.now));
  const batches = await unlessRefused(`topic '${input.spec.topic}'`, context, (client) => publishBatches(client, input.spec.topic, envelopes));
  if (isRefused(batches)) return batches;
  context.log(`drain ${input.spec.drainId}: published ${envelopes.length} messages on ${input.spec.topic} in ${batches} batch(es)`);
  return { messages: envelopes.length, batches, at: input.now };
}

export async function withdrawDrain(input: WithdrawInput, context: InvocationContext): Promise<number | Refused> {
  if (input.nodes !== undefined) {
    const queue = commandsQueueName(input.topic);
    // Across the tries: the commands a failed try took back are withdrawn too.
    const taken: string[] = [];
    const ids = await unlessRefused(`queue '${queue}'`, context, (client) => withdrawCommands(client, queue, input.drainId, input.nodes!, taken));
    if (isRefused(ids)) return ids;
    context.log(`drain ${input.drainId}: withdrew ${ids.length} untaken command(s)`);
    return ids.length;
  }
  const subscription = `subscription '${input.topic}/${SHUTDOWN_SUBSCRIPTION}'`;
  const taken: string[] = [];
  const ids = await unlessRefused(subscription, context, (client) => withdrawMessages(client, input.topic, SHUTDOWN_SUBSCRIPTION, input.drainId, input.max, taken));
  if (isRefused(ids)) return ids;
  context.log(`drain ${input.drainId}: withdrew ${ids.length} untaken messages`);
  return ids.length;
}

// ---- orchestration

function finish(context: OrchestrationContext, input: DrainInput, progress: DrainProgress, published: Published, status: DrainStatus, end: DrainEnd): DrainOutput {
  const now = context.df.currentUtcDateTime;
  progress.status = status;
  progress.finishedAt = now.toISOString();
  const summary = summarize(input.spec, progress, now, end);
  context.df.setCustomStatus(summary);
  return { summary, progress, published, generation: input.generation, eventsFolded: input.eventsFolded, batchesFolded: input.batchesFolded, episodes: input.episodes + (episodesInHistory(context) ?? 0) };
}

export const drainOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = parseDrainInput(context.df.getInput());
  const { spec } = input;
  const progress = input.progress ?? newProgress(spec.drainId, spec.topic, spec.mode, spec.count);

  let published = input.published;
  if (!published) {
    context.df.setCustomStatus(summarize(spec, progress, context.df.currentUtcDateTime, { outcome: 'publishing' }));
    const retry = new df.RetryOptions(2_000, 5);
    retry.backoffCoefficient = 2;
    const none = (): Published => ({ messages: 0, batches: 0, at: context.df.currentUtcDateTime.toISOString() });
    let result: Published | Refused;
    try {
      result = (yield context.df.callActivityWithRetry(PUBLISH_DRAIN, retry, { spec, now: context.df.currentUtcDateTime.toISOString() } satisfies PublishInput)) as Published | Refused;
    } catch (err) {
      // Nothing was published (or a retry would have succeeded): the drain ends as failed, with
      // the cause where operators look, instead of a stale "publishing".
      const cause = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      return finish(context, input, progress, none(), 'failed', { outcome: `publishing failed after 5 attempts: ${cause}` });
    }
    // Not retried: retrying cannot grant a role.
    if (isRefused(result)) return finish(context, input, progress, none(), 'failed', { outcome: `publishing refused: ${result.refused}` });
    published = result;
  }

  for (let folded = 0; ; ) {
    const verdict = judge(spec, progress, context.df.currentUtcDateTime);
    if (verdict.end) return finish(context, input, progress, published, verdict.end, { outcome: verdict.outcome });
    context.df.setCustomStatus(summarize(spec, progress, context.df.currentUtcDateTime));
    // An episode that folded reports ends its generation, so the input of the running generation
    // holds every folded report (GET /workers reads it, never the history) and each replay is one
    // episode long. Only once every raised event is folded: continue-as-new drops unread ones.
    // Without a view of the history, never (history grows, nothing is lost).
    if (folded > 0 && eventsInHistory(context, REPORT_EVENT) === folded && eventsInHistory(context, CANCEL_EVENT) === 0) {
      // Events raised after this episode are delivered to the next generation.
      context.df.continueAsNew({
        spec, progress, published, generation: input.generation + 1, eventsFolded: input.eventsFolded, batchesFolded: input.batchesFolded,
        episodes: input.episodes + (episodesInHistory(context) ?? 0),
      } satisfies DrainInput);
      return undefined;
    }

    // Fresh waiters each round: the library hands an event to the newest waiter of that name.
    const report = context.df.waitForExternalEvent(REPORT_EVENT);
    const cancel = context.df.waitForExternalEvent(CANCEL_EVENT);
    const timer = verdict.wakeAt !== undefined ? context.df.createTimer(new Date(verdict.wakeAt)) : undefined;
    const winner = yield context.df.Task.any(timer ? [report, cancel, timer] : [report, cancel]);

    if (winner === report) {
      timer?.cancel();
      input.eventsFolded += foldReports(context, progress, report.result, spec.nodes);
      input.batchesFolded++;
      folded++;
    } else if (winner === cancel) {
      timer?.cancel();
      const request = (cancel.result ?? {}) as CancelRequest;
      const result = (yield context.df.callActivity(WITHDRAW_DRAIN, { topic: spec.topic, drainId: spec.drainId, max: spec.count, ...(spec.nodes !== undefined && { nodes: spec.nodes }) } satisfies WithdrawInput)) as number | Refused;
      const withdrawn = isRefused(result) ? 0 : result;
      const untaken = isRefused(result) ? `untaken messages not withdrawn: ${result.refused}` : `${withdrawn} untaken message(s) withdrawn`;
      return finish(context, input, progress, published, 'cancelled', {
        outcome: `cancelled${request.reason ? `: ${request.reason}` : ''}; ${untaken}; nodes that already took the drain keep draining`,
        withdrawn,
        ...(request.by !== undefined && { cancelledBy: request.by }),
        ...(request.for !== undefined && { cancelledFor: request.for }),
      });
    }
    // The timer fired: judge again.
  }
};

df.app.activity(PUBLISH_DRAIN, { handler: publishDrain });
df.app.activity(WITHDRAW_DRAIN, { handler: withdrawDrain });
df.app.orchestration(DRAIN_ORCHESTRATOR, drainOrchestrator);
