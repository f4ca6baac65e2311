// ISO-8601 durations as ARM and the official emulator's Config.json write them ("PT1M",
// "P14D", "P10675199DT2H48M5.4775807S"), converted to and from the catalogue's milliseconds.

/** .NET `TimeSpan.MaxValue` in milliseconds: what Azure reports for "never" (TTL, auto-delete). */
export const MAX_TIMESPAN_MS = 922_337_203_685_477;
const MAX_TIMESPAN_ISO = 'P10675199DT2H48M5.4775807S';

const NUMBER = String.raw`(\d+(?:[.,]\d+)?)`;
const ISO_DURATION = new RegExp(
  `^P(?:${NUMBER}Y)?(?:${NUMBER}M)?(?:${NUMBER}W)?(?:${NUMBER}D)?(?:T(?:${NUMBER}H)?(?:${NUMBER}M)?(?:${NUMBER}S)?)?$`,
  'i',
);
// Years and months have no fixed length; .NET's XmlConvert counts them as 365 and 30 days.
const UNIT_MS = [365 * 86_400_000, 30 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000];

/** Milliseconds of an ISO-8601 duration, or undefined when `text` is not one. */
export function parseIsoDuration(text: string): number | undefined {
  const match = ISO_DURATION.exec(text.trim());
  if (!match || /^P$|T$/i.test(text.trim())) return undefined;
  let ms = 0;
  let any = false;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const part = match[i + 1];
    if (part === undefined) continue;
    any = true;
    ms += Number(part.replace(',', '.')) * UNIT_MS[i]!;
  }
  if (!any) return undefined;
  return ms >= MAX_TIMESPAN_MS ? MAX_TIMESPAN_MS : Math.round(ms);
}

/** The shortest ISO-8601 form of a duration in milliseconds, as Azure prints it. */
export function formatIsoDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms >= MAX_TIMESPAN_MS) return MAX_TIMESPAN_ISO;
  let rest = Math.max(0, Math.round(ms));
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1000;
  let time = '';
  if (hours) time += `${hours}H`;
  if (minutes) time += `${minutes}M`;
  if (seconds) time += `${seconds}S`;
  if (!days && !time) return 'PT0S';
  return `P${days ? `${days}D` : ''}${time ? `T${time}` : ''}`;
}
