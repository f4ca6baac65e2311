// Timer triggers, one per schedule entry, each starting the drain orchestration. The drain id is
// the entry's name and the occurrence, so an occurrence fired twice (a restart, a past-due run)
// finds its drain and starts no second one.
//
// The occurrence is the trigger's `scheduleStatus.last` (the occurrence being fired, as the
// local host gives it), else the current minute. NCRONTAB is evaluated in UTC unless the app
// runs with WEBSITE_TIME_ZONE (Windows plans) or TZ (Linux plans) in Azure; the local host is UTC.

import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { startDrainOnce } from '../adapters/durable.js';
import { loadSchedules } from '../config.js';
import { parseDrainRequest } from '../domain/drain-request.js';
import { scheduledDrainId, type ScheduleEntry } from '../domain/schedule.js';

export function occurrenceOf(timer: Timer, now: Date): Date {
  const last = timer.scheduleStatus?.last ? new Date(timer.scheduleStatus.last) : undefined;
  if (last && !Number.isNaN(last.getTime()) && Math.abs(now.getTime() - last.getTime()) < 86_400_000 * 366) return last;
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
