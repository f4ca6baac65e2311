/**
 * Schedules of the Functions timer trigger: six-field NCRONTAB expressions
 * (`second minute hour day month day-of-week`) and TimeSpan intervals (`hh:mm:ss`, `d.hh:mm:ss`).
 * Times are UTC (the host's WEBSITE_TIME_ZONE is not modelled).
 */
export interface Schedule {
  readonly expression: string;
  /** First occurrence strictly after `after` (ms since epoch). */
  next(after: number): number;
}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day-of-week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

export class ScheduleError extends Error {
  readonly code = 'InvalidSchedule';
}

function parseValue(raw: string, field: Field, expression: string): number {
  const lower = raw.toLowerCase();
  const byName = field.names?.indexOf(lower.slice(0, 3)) ?? -1;
  if (field.names && byName >= 0 && /^[a-z]+$/.test(lower)) return byName + field.min;
  if (!/^\d+$/.test(raw)) throw new ScheduleError(`"${raw}" is not a valid ${field.name} in schedule "${expression}"`);
  let n = Number(raw);
  if (field.name === 'day-of-week' && n === 7) n = 0;
  if (n < field.min || n > field.max) {
    throw new ScheduleError(`${field.name} ${n} is out of range ${field.min}-${field.max} in schedule "${expression}"`);
  }
  return n;
}

function parseField(text: string, field: Field, expression: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [rangeText, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) throw new ScheduleError(`Bad step "${stepText}" in schedule "${expression}"`);
    let lo: number;
    let hi: number;
    if (rangeText === '*' || rangeText === '?') {
      lo = field.min;
      hi = field.max;
    } else if (rangeText.includes('-')) {
      const [a, b] = rangeText.split('-') as [string, string];
      lo = parseValue(a, field, expression);
      hi = parseValue(b, field, expression);
      if (field.name === 'day-of-week' && b === '7') hi = 6;
      if (hi < lo) throw new ScheduleError(`Range ${rangeText} runs backwards in schedule "${expression}"`);
    } else {
      lo = parseValue(rangeText, field, expression);
      hi = stepText === undefined ? lo : field.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

class CronSchedule implements Schedule {
  readonly expression: string;
  readonly #sets: Set<number>[];

  constructor(expression: string) {
    this.expression = expression;
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 6) {
      throw new ScheduleError(
        `Schedule "${expression}" has ${parts.length} fields; NCRONTAB needs six: second minute hour day month day-of-week (e.g. "0 */5 * * * *")`,
      );
    }
    this.#sets = parts.map((p, i) => parseField(p, FIELDS[i]!, expression));
  }

  next(after: number): number {
    const [sec, min, hour, day, month, dow] = this.#sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
    const d = new Date(Math.floor(after / 1000) * 1000 + 1000);
    const limit = after + 5 * 366 * 24 * 3600 * 1000;
    while (d.getTime() <= limit) {
      if (!month.has(d.getUTCMonth() + 1)) {
        d.setUTCMonth(d.getUTCMonth() + 1, 1);
        d.setUTCHours(0, 0, 0);
        continue;
      }
      if (!day.has(d.getUTCDate()) || !dow.has(d.getUTCDay())) {
        d.setUTCDate(d.getUTCDate() + 1);
        d.setUTCHours(0, 0, 0);
        continue;
      }
      if (!hour.has(d.getUTCHours())) {
        d.setUTCHours(d.getUTCHours() + 1, 0, 0);
        continue;
      }
      if (!min.has(d.getUTCMinutes())) {
        d.setUTCMinutes(d.getUTCMinutes() + 1, 0);
        continue;
      }
      if (!sec.has(d.getUTCSeconds())) {
        d.setUTCSeconds(d.getUTCSeconds() + 1);
        continue;
      }
      return d.getTime();
    }
    throw new ScheduleError(`Schedule "${this.expression}" has no occurrence in the next five years`);
  }
}

class IntervalSchedule implements Schedule {
  readonly expression: string;
  readonly #ms: number;

  constructor(expression: string, ms: number) {
    this.expression = expression;
    this.#ms = ms;
  }

  next(after: number): number {
    return after + this.#ms;
  }
}

const TIMESPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/;

export function parseSchedule(expression: string): Schedule {
  const span = TIMESPAN.exec(expression.trim());
  if (span) {
    const [, d, h, m, s] = span;
    const ms = (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
    if (ms <= 0) throw new ScheduleError(`Interval schedule "${expression}" must be longer than zero`);
    return new IntervalSchedule(expression, ms);
  }
  return new CronSchedule(expression);
}
