// Timer triggers, one per schedule entry, each starting the drain orchestration. The drain id is
// the entry's name and the occurrence, so an occurrence fired twice (a restart, a past-due run)
// finds its drain and starts no second one.
//
// The occurrence comes from the trigger's schedule status. Azure's timer listener hands the
// function the status as it was *before* this run (`next` = the occurrence now firing, `last` =
// the one before); the local host hands it after its update (`last` = the occurrence now firing).
// So: `next` when it is due (within a few seconds of clock skew), else `last`, else the current
// minute (no schedule status at all). NCRONTAB is evaluated in UTC unless the app runs with WEBSITE_TIME_ZONE (Windows plans)
// or TZ (Linux plans) in Azure; the local host is UTC.
//
// The topic's budget applies: an occurrence that would take the topic past it starts no drain and
// leaves a record (`workforceskippedruns`, shown by GET /api/topics); one within it reserves its
// nodes in the topic's admission ledger before it starts, as an HTTP drain does. When the budget
// cannot be read or the reservation cannot be written (concurrent admissions kept winning) the
// occurrence fails (logged) and starts nothing: a safety check that cannot run is not passed.

import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { budgetStore } from '../adapters/budget-table.js';
import { findDrain, startDrainOnce } from '../adapters/durable.js';
import { config, loadSchedules } from '../config.js';
import { describeBudget } from '../domain/budget.js';
import { parseDrainRequest } from '../domain/drain-request.js';
import { topicPartition } from '../domain/node-inventory.js';
import { admit } from '../http/drain-admission.js';
import { scheduledDrainId, type ScheduleEntry } from '../domain/schedule.js';

const SKEW_MS = 5_000;

function instant(text: string | undefined): number | undefined {
  const ms = text ? Date.parse(text) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

export function occurrenceOf(timer: Timer, now: Date): Date {
  const next = instant(timer.scheduleStatus?.next);
  if (next !== undefined && next <= now.getTime() + SKEW_MS) return new Date(next);
  // Not checked against `now`: under the local host's manual clock the worker's wall clock lags.
  const last = instant(timer.scheduleStatus?.last);
  if (last !== undefined) return new Date(last);
  return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
}

export function scheduledDrain(entry: ScheduleEntry) {
  return async function scheduledDrainHandler(timer: Timer, context: InvocationContext): Promise<void> {
    const occurrence = occurrenceOf(timer, new Date());
    const drainId = scheduledDrainId(entry.name, occurrence);
    const parsed = parseDrainRequest(entry.topic, { requestedBy: `schedule:${entry.name}`, ...entry.request, drainId }, occurrence);
    if (!parsed.ok) {
      // Validated at load except for what depends on the time; nothing to retry.
      context.error(`schedule ${entry.name}: ${parsed.problem.field}: ${parsed.problem.detail}`);
      return;
    }
    const spec = { ...parsed.value, drainId };
    const client = df.getClient(context);
    // A re-fired occurrence finds its drain: its own messages must not count against it.
    if (await findDrain(client, drainId)) {
      context.log(`schedule ${entry.name}: drain ${drainId} already exists, not started again`);
      return;
    }
    const { budget } = await admit(client, spec, new Date(), { drainId, startsIf: (a) => !a.budget?.exceeded });
    if (budget?.exceeded) {
      const { exceeded: _e, ...figures } = budget;
      const why = `the drain would take topic ${spec.topic} past its budget: ${describeBudget(budget)}`;
      await budgetStore(config().inventory!).recordSkipped(topicPartition(spec.topic), { at: occurrence.toISOString(), schedule: entry.name, drainId, why, ...figures });
      context.warn(`schedule ${entry.name}: occurrence ${occurrence.toISOString()} skipped, no drain started: ${why}`);
      return;
    }
    const { started } = await startDrainOnce(client, spec);
    context.log(started
      ? `schedule ${entry.name}: drain ${drainId} started (${spec.count} x ${spec.mode} on ${spec.topic})${timer.isPastDue ? ', past due' : ''}`
      : `schedule ${entry.name}: drain ${drainId} already exists, not started again`);
  };
}

for (const entry of loadSchedules()) {
  app.timer(`schedule-${entry.name}`, {
    schedule: entry.schedule,
    extraInputs: [df.input.durableClient()],
    handler: scheduledDrain(entry),
  });
}
