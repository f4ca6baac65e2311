// JSON-lines logging to stderr: one object per line, an `event` name first, for people and tests.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

const { getTime, getUTCFullYear, getUTCMonth, getUTCDate, getUTCHours, getUTCMinutes, getUTCSeconds, getUTCMilliseconds } = Date.prototype;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * `date.toISOString()`, the same string (and the same errors), built from the UTC fields.
 * Node's own toISOString looks up the local time zone's display name first (V8 formats every
 * date string through one routine), which pages in ICU's time zone and locale data embedded in
 * the node binary: ~1 MiB of an idle agent's RSS for a name it does not print. `cli.ts` installs
 * this as Date#toISOString for the agent's process.
 */
export function isoString(date: Date): string {
  const t = getTime.call(date); // a TypeError for a non-Date, as toISOString
  if (!Number.isFinite(t)) throw new RangeError('Invalid time value');
  const y = getUTCFullYear.call(date);
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : `${y < 0 ? '-' : '+'}${pad(Math.abs(y), 6)}`;
  return (
    `${year}-${pad(getUTCMonth.call(date) + 1, 2)}-${pad(getUTCDate.call(date), 2)}` +
    `T${pad(getUTCHours.call(date), 2)}:${pad(getUTCMinutes.call(date), 2)}:${pad(getUTCSeconds.call(date), 2)}.${pad(getUTCMilliseconds.call(date), 3)}Z`
  );
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel) => (event: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    write(`${JSON.stringify({ at: isoString(new Date()), level: lvl, event, ...fields })}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
