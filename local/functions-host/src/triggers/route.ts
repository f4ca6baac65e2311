/**
 * ASP.NET-style route templates as Functions uses them: literal segments (case-insensitive),
 * `{name}`, `{name?}`, `{name:int|alpha|bool|guid|long|double}`, and a trailing `{*rest}`.
 */
interface Segment {
  literal?: string;
  param?: string;
  optional?: boolean;
  catchAll?: boolean;
  constraint?: string;
}

export interface CompiledRoute {
  template: string;
  segments: Segment[];
  /** Fewer parameters and more literals sort first, so `items/new` wins over `items/{id}`. */
  rank: number;
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  double: /^-?\d+(\.\d+)?$/,
  float: /^-?\d+(\.\d+)?$/,
  decimal: /^-?\d+(\.\d+)?$/,
  bool: /^(true|false)$/i,
  alpha: /^[a-z]+$/i,
  guid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
};

export function compileRoute(template: string): CompiledRoute {
  const clean = template.replace(/^\/+|\/+$/g, '');
  const segments: Segment[] = clean === '' ? [] : clean.split('/').map(parseSegment);
  const literals = segments.filter((s) => s.literal !== undefined).length;
  const params = segments.length - literals;
  return { template: clean, segments, rank: params * 100 - literals + (segments.some((s) => s.catchAll) ? 10_000 : 0) };
}

function parseSegment(raw: string): Segment {
  const m = /^\{(\*)?([A-Za-z_][\w]*)(?::([a-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(raw);
  if (!m) {
    if (raw.includes('{') || raw.includes('}')) throw new Error(`Unsupported route segment "${raw}"`);
    return { literal: raw.toLowerCase() };
  }
  return { param: m[2]!, catchAll: !!m[1], constraint: m[3], optional: !!m[4] || !!m[1] };
}

/** Matches a path (without prefix, without query) and returns the route parameters, or undefined. */
export function matchRoute(route: CompiledRoute, pathname: string): Record<string, string> | undefined {
  const parts = pathname.replace(/^\/+|\/+$/g, '').split('/').filter((p) => p !== '');
  const params: Record<string, string> = {};
  let i = 0;
  for (const seg of route.segments) {
    if (seg.catchAll) {
      const rest = parts.slice(i).map(safeDecode).join('/');
      if (rest !== '') params[seg.param!] = rest;
      i = parts.length;
      break;
    }
    const part = parts[i];
    if (part === undefined) {
      if (seg.optional) continue;
      return undefined;
    }
    if (seg.literal !== undefined) {
      if (safeDecode(part).toLowerCase() !== seg.literal) return undefined;
    } else {
      const value = safeDecode(part);
      const check = seg.constraint ? CONSTRAINTS[seg.constraint] : undefined;
      if (check && !check.test(value)) return undefined;
      params[seg.param!] = value;
    }
    i++;
  }
  return i === parts.length ? params : undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
