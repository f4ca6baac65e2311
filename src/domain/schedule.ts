// Scheduled drains: entries of WORKFORCE_SCHEDULES / schedules.json, validated, and the drain
// id of one occurrence (the same for a re-fired occurrence, so it never starts a second drain).

import { parseDrainRequest } from './drain-request.js';
import { isObj } from './json.js';
import { invalidField, ok, type Result } from './problem.js';

export interface ScheduleEntry {
  name: string;
  /** Six-field NCRONTAB (`second minute hour day month day-of-week`), UTC unless WEBSITE_TIME_ZONE/TZ. */
  schedule: string;
  topic: string;
  /** The drain request body (mode, count, deadline | gracePeriod, notAfter | ackTimeout, reason). */
  request: Record<string, unknown>;
}

const NAME = /^[A-Za-z][A-Za-z0-9-]{0,39}$/;
const ENTRY_FIELDS = ['name', 'schedule', 'topic', 'mode', 'count', 'gracePeriod', 'ackTimeout', 'reason', 'requestedBy'];

function entry(raw: unknown, at: string): Result<ScheduleEntry> {
  if (!isObj(raw)) return invalidField(at, `${at} must be an object`);
  const e = raw;
  const unknown = Object.keys(e).find((k) => !ENTRY_FIELDS.includes(k));
  if (unknown) {
    return invalidField(`${at}.${unknown}`, `unknown field "${unknown}" (known: ${ENTRY_FIELDS.join(', ')}; schedules take relative gracePeriod/ackTimeout, not instants)`);
  }
  if (typeof e.name !== 'string' || !NAME.test(e.name)) {
    return invalidField(`${at}.name`, 'name must be 1-40 letters, digits or "-", starting with a letter (it names the timer function and the drains)');
  }
  if (typeof e.schedule !== 'string' || e.schedule.trim().split(/\s+/).length !== 6) {
    return invalidField(`${at}.schedule`, 'schedule must be a six-field NCRONTAB expression such as "0 0 22 * * *" (second minute hour day month day-of-week)');
  }
  if (typeof e.topic !== 'string' || e.topic === '') return invalidField(`${at}.topic`, 'topic must be a topic name');
  const { name, schedule, topic, ...request } = e;
  // The request is checked now against a fixed instant: relative times are all a schedule has.
  const check = parseDrainRequest(topic, request, new Date(0));
  if (!check.ok) return invalidField(`${at}.${check.problem.field}`, check.problem.detail);
  return ok({ name, schedule: schedule.trim(), topic, request });
}

export function parseSchedules(text: string, source: string): Result<ScheduleEntry[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return invalidField(source, `${source} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) return invalidField(source, `${source} must be a JSON array of schedule entries`);
  const out: ScheduleEntry[] = [];
  for (const [i, item] of raw.entries()) {
    const parsed = entry(item, `${source}[${i}]`);
    if (!parsed.ok) return parsed;
    if (out.some((o) => o.name === parsed.value.name)) return invalidField(`${source}[${i}].name`, `name "${parsed.value.name}" is used twice`);
    out.push(parsed.value);
  }
  return ok(out);
}

/** `nightly-eu-20261125T2200Z`: the schedule's name and the occurrence, to the second when it has seconds. */
export function scheduledDrainId(name: string, occurrence: Date): string {
  const iso = occurrence.toISOString();
  const compact = iso.slice(0, 19).replace(/[-:]/g, '');
  return `${name}-${compact.endsWith('00') ? compact.slice(0, 13) : compact}Z`;
}
