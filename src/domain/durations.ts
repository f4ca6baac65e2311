// Durations as people type them ("90s", "30m", "2h", "1h30m", "1d") or as ISO-8601 ("PT2H").
// One parser, shared by the HTTP API, schedules and the CLI, so "2h" means the same everywhere.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const HUMAN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const HUMAN_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const ISO = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds for a duration string, or undefined when it is not one. Zero is not a duration. */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  let ms: number | undefined;
  if (HUMAN.test(value)) {
    ms = 0;
    for (const [, amount, unit] of value.matchAll(HUMAN_PART)) ms += Number(amount) * UNIT_MS[unit!]!;
  } else {
    const iso = ISO.exec(value.toUpperCase());
    if (iso && value.length > 1 && !value.toUpperCase().endsWith('T')) {
      const [, d, h, m, s] = iso;
      ms = Number(d ?? 0) * UNIT_MS.d! + Number(h ?? 0) * UNIT_MS.h! + Number(m ?? 0) * UNIT_MS.m! + Number(s ?? 0) * UNIT_MS.s!;
    }
  }
  return ms !== undefined && ms > 0 && Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** "1h30m" style, for messages and status pages. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  let rest = Math.round(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}
