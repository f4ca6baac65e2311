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

import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { startDrainOnce } from '../adapters/durable.js';
import { loadSchedules } from '../config.js';
import { parseDrainRequest } from '../domain/drain-request.js';
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
    const { started } = await startDrainOnce(df.getClient(context), spec);
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
