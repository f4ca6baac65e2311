// What `npm run bench` reads from each benchmark's output, and the target each figure has in its
// issue. The benchmarks print human-readable lines; each figure is matched by a pattern on them.

export type Verdict = 'met' | 'missed' | 'info';

export interface Figure {
  /** What was measured, as a reader of results.md would ask for it. */
  what: string;
  /** The measured value, formatted with its unit; undefined when the output did not contain it. */
  value: string | undefined;
  /** The target from the issue, in words ("≥ 10,000 msg/s"), or a note that there is none. */
  target: string;
  verdict: Verdict | undefined;
}

export interface Bench {
  name: string;
  /** The root npm script that runs it (also the reproduction command). */
  script: string;
  issue: number;
  figures(output: string): Figure[];
}

const NO_TARGET = 'none set (the issue asks for the figure)';

function match(output: string, re: RegExp): RegExpMatchArray | undefined {
  return output.match(re) ?? undefined;
}
const num = (s: string | undefined): number => (s === undefined ? NaN : Number(s));
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A figure with a numeric target: `ok(value)` says whether it is met. */
function judged(what: string, value: number | undefined, unit: string, target: string, ok: (v: number) => boolean, digits = 0): Figure {
  if (value === undefined || Number.isNaN(value)) return { what, value: undefined, target, verdict: undefined };
  return { what, value: `${fmt(value, digits)} ${unit}`.trim(), target, verdict: ok(value) ? 'met' : 'missed' };
}
/** A figure the issue asks for without a number to meet. */
function info(what: string, value: string | undefined, target = NO_TARGET): Figure {
  return { what, value, target, verdict: value === undefined ? undefined : 'info' };
}

/** The emulator's table: `| mode | send msg/s | send→complete msg/s | completed | CPU | p50 | p99 | max |`. */
function emulatorRow(output: string, mode: string): string[] | undefined {
  const line = output.split('\n').find((l) => l.startsWith('|') && l.split('|')[1]?.trim() === mode);
  return line?.split('|').slice(1, -1).map((c) => c.trim());
}

export const BENCHES: Bench[] = [
  {
    name: 'Service Bus emulator',
    script: 'bench:emulator',
    issue: 2,
    figures(out) {
      const figures: Figure[] = [];
      for (const [mode, label, min] of [['in memory', 'in memory', 10_000], ['persisted (--data)', 'persisted', 3_000]] as const) {
        const row = emulatorRow(out, mode);
        figures.push(judged(`send → receive → complete, 20,000 messages, ${label}`, row ? num(row[2]) : undefined, 'msg/s', `≥ ${fmt(min)} msg/s`, (v) => v >= min));
        figures.push(info(`batched send alone, ${label}`, row ? `${fmt(num(row[1]))} msg/s` : undefined));
        figures.push(judged(`one message's publish → receive latency p99, ${label}`, row ? num(row[6]) : undefined, 'ms', '< 5 ms', (v) => v < 5, 2));
        figures.push(info(`publish → receive latency p50, ${label}`, row ? `${row[5]} ms` : undefined));
      }
      return figures;
    },
  },
  {
    name: 'Functions host',
    script: 'bench:host',
    issue: 4,
    figures(out) {
      const http = [...out.matchAll(/HTTP trivial function, (\d+) connections: .*= (\d+) req\/s; latency p50 ([\d.]+) ms, p99 ([\d.]+) ms/g)];
      const seq = match(out, /Orchestration, (\d+) sequential activities .*: (\d+) activity round trips\/s/);
      const par = match(out, /Orchestration, (\d+) instances × (\d+) sequential activities: (\d+) activity round trips\/s/);
      const fan = match(out, /fan-out of (\d+) activities \(Task\.all\): (\d+) activities\/s/);
      const replay = match(out, /Replay, (\d+)-event history, end to end .*: median ([\d.]+) ms, max ([\d.]+) ms/);
      const lib = match(out, /Replay, the same history in durable-functions alone \(parse \+ replay\): median ([\d.]+) ms/);
      const figures = http.length
        ? http.map((m) => info(`HTTP, trivial function, ${m[1]} connection(s)`, `${fmt(num(m[2]))} req/s, p99 ${m[4]} ms (p50 ${m[3]} ms)`))
        : [info('HTTP, trivial function', undefined)];
      return [
        ...figures,
        info(`orchestration, ${seq?.[1] ?? '?'} sequential activities`, seq ? `${seq[2]} activity round trips/s` : undefined),
        info(`orchestration, ${par?.[1] ?? '?'} instances × ${par?.[2] ?? '?'} activities`, par ? `${par[3]} activity round trips/s` : undefined),
        info(`orchestration, fan-out of ${fan?.[1] ?? '?'} activities`, fan ? `${fan[2]} activities/s` : undefined),
        info(`replay of a ${replay?.[1] ?? '?'}-event history, end to end (median)`, replay ? `${replay[2]} ms (max ${replay[3]} ms)` : undefined),
        info('the same replay in durable-functions alone (median)', lib ? `${lib[1]} ms` : undefined),
      ];
    },
  },
  {
    name: 'workforce-agent',
    script: 'bench:agent',
    issue: 3,
    figures(out) {
      const sig = match(out, /publish → SIGTERM in the worker, (\d+) drains: p50 ([\d.]+) ms, p99 ([\d.]+) ms/);
      const idle = match(out, /idle agent over (\d+) s: CPU (\d+) ms \(([\d.]+) %\)[,;] RSS ([\d.]+) → ([\d.]+) MiB/);
      const priv = match(out, /of which private ([\d.]+) MiB and file-backed ([\d.]+) MiB/);
      const fleet = match(out, /(\d+) nodes, one \d+-message batch: all accepted after (\d+) ms, all drained after (\d+) ms/);
      const start = match(out, /spawn → listening (\d+) ms; spawn → exit of `version` (\d+) ms/);
      const stages = match(out, /stages, p50 each: (.+)/);
      const machine = match(out, /floor, this machine, idle processes: loopback TCP round trip p50 (\d+) µs, p99 \d+ µs; kill\(\) → another process's signal handler p50 (\d+) µs/);
      const sdk = match(out, /floor, @azure\/service-bus through the emulator, warm, .*?: sendMessages → receiveMessages\(1\) returns p50 ([\d.]+) ms, p99 [\d.]+ ms; deferMessage round trip p50 ([\d.]+) ms/);
      const mb = (mib: string | undefined) => num(mib) * 1.048576; // MiB → MB
      return [
        judged(`publish → SIGTERM in the worker, p50 (${sig?.[1] ?? '?'} drains)`, num(sig?.[2]), 'ms', '≤ 10 ms', (v) => v <= 10, 2),
        judged(`publish → SIGTERM in the worker, p99 (${sig?.[1] ?? '?'} drains)`, num(sig?.[3]), 'ms', '≤ 25 ms', (v) => v <= 25, 2),
        info('where the time goes (p50 of each stage)', stages?.[1]),
        info('floor without the agent: SDK → emulator → SDK, warm (p50)', sdk ? `send → receive ${sdk[1]} ms, defer round trip ${sdk[2]} ms` : undefined, 'none: context for the p50 guard'),
        info('floor without the agent: this machine, idle processes (p50)', machine ? `loopback TCP round trip ${machine[1]} µs, kill() → signal handler ${machine[2]} µs` : undefined, 'none: context for the p50 guard (a drain wakes five processes in turn)'),
        info(`idle agent RSS, at the start of ${idle?.[1] ?? '?'} s idle`, idle ? `${idle[4]} MiB` : undefined, 'none: the guard is after the idle period'),
        judged(`idle agent RSS, after ${idle?.[1] ?? '?'} s idle (${idle?.[5] ?? '?'} MiB)`, idle ? mb(idle[5]) : undefined, 'MB', '≤ 52 MB (50 MiB)', (v) => v <= 52, 1),
        ...(priv ? [info('idle agent RSS after the idle period: private / file-backed (shared with every Node process)', `${priv[1]} MiB / ${priv[2]} MiB`, 'the issue sets no separate target')] : []),
        judged(`idle agent CPU over ${idle?.[1] ?? '?'} s (${idle?.[2] ?? '?'} ms)`, num(idle?.[3]), '% of a core', '≈ 0 (taken as < 1 % of a core)', (v) => v < 1, 3),
        info(`${fleet?.[1] ?? '?'} nodes, one batch: all accepted`, fleet ? `${fmt(num(fleet[2]))} ms (all drained ${fmt(num(fleet[3]))} ms)` : undefined),
        info('start-up: spawn → listening (median)', start ? `${start[1]} ms (\`version\`: ${start[2]} ms)` : undefined),
      ];
    },
  },
  {
    name: 'Control plane',
    script: 'bench:control',
    issue: 5,
    figures(out) {
      const post = match(out, /POST → 202, (\d+) sequential requests: p50 ([\d.]+) ms, p99 ([\d.]+) ms/);
      const drain = match(out, /(\d+)-node drain: ([\w-]+) in ([\d.]+) s from POST/);
      const folded = match(out, /(\d+) report states folded \((\d+)\/s from POST, (\d+)\/s from the first folded report/);
      const episodes = match(out, /(\d+) report events \([^)]*\); (\d+) orchestrator episodes \(([\d.]+) per 1,000 report states\)/);
      const history = match(out, /history: (\d+) generations; the last one holds (\d+) events/);
      const status = match(out, /custom status: (\d+) bytes/);
      return [
        info(`POST → 202, p50 (${post?.[1] ?? '?'} sequential)`, post ? `${post[2]} ms` : undefined),
        info(`POST → 202, p99 (${post?.[1] ?? '?'} sequential)`, post ? `${post[3]} ms` : undefined),
        judged(`${drain?.[1] ?? '?'}-node drain, POST → ${drain?.[2] ?? 'completed'}`, num(drain?.[3]), 's', '≤ 3 s for 1,000 nodes (#16)', (v) => drain?.[2] === 'completed' && v <= 3, 1),
        judged('report states folded per second, from the first folded report', num(folded?.[3]), 'reports/s', '≥ 5,000 (#16)', (v) => v >= 5000),
        info('report states folded per second, from POST', folded ? `${fmt(num(folded[2]))}/s (${fmt(num(folded[1]))} states)` : undefined),
        judged('orchestrator episodes per 1,000 report states', num(episodes?.[3]), 'episodes', '≤ 20 (#16)', (v) => v <= 20, 1),
        info('its history', history ? `${history[1]} generations; the last holds ${history[2]} events` : undefined),
        judged('its custom status', num(status?.[1]), 'bytes', '≤ 16 KB (Azure custom status limit)', (v) => v <= 16 * 1024),
      ];
    },
  },
  {
    name: 'Fleet inventory',
    script: 'bench:inventory',
    issue: 15,
    figures(out) {
      const agents = match(out, /^(\d+) simulated agents × (\d+) heartbeats/m);
      const updates = match(out, /inventory updates through the trigger: (\d+) reports\/s \((\d+) in ([\d.]+) s[^)]*\); (\d+) row writes in (\d+) batches \((\d+) rows\/s\)/);
      const list = match(out, /GET \/api\/topics\/\{topic\}\/nodes, all (\d+) nodes by pages of 1,000, \d+ times: page p50 ([\d.]+) ms, p99 ([\d.]+) ms; all pages p50 (\d+) ms, max (\d+) ms/);
      const topics = match(out, /GET \/api\/topics \(counts (\d+) nodes of [^)]*\): (\d+) ms/);
      return [
        judged(`inventory updates through the reports trigger (${agents?.[1] ?? '?'} agents × ${agents?.[2] ?? '?'} heartbeats)`, num(updates?.[1]), 'reports/s', '≥ 2,000/s', (v) => v >= 2_000),
        info('row writes (coalesced per node per batch)', updates ? `${fmt(num(updates[4]))} in ${updates[5]} batches (${updates[6]} rows/s)` : undefined),
        info(`GET /api/topics/{topic}/nodes, a page of 1,000, p99 (${list?.[1] ?? '?'} nodes)`, list ? `${list[3]} ms (p50 ${list[2]} ms)` : undefined, 'p99 asked for, no number set'),
        info(`GET /api/topics/{topic}/nodes, all ${list?.[1] ?? '?'} nodes (every page)`, list ? `p50 ${fmt(num(list[4]))} ms, max ${fmt(num(list[5]))} ms` : undefined),
        info(`GET /api/topics with ${topics?.[1] ?? '?'} nodes counted`, topics ? `${topics[2]} ms` : undefined),
      ];
    },
  },
  {
    name: 'Targeted drain',
    script: 'bench:targeted',
    issue: 17,
    figures(out) {
      const head = match(out, /targeted drain of (\d+) named nodes among (\d+)/);
      const accepted = match(out, /POST → all (\d+) accepted: ([\d.]+) s/);
      const done = match(out, /POST → ([\w-]+): ([\d.]+) s \(counts/);
      const sessions = match(out, /sessions taken: (\d+) .*?; (\d+) sessions\/s from POST to the last taken, (\d+)\/s from the first to the last/);
      const untouched = match(out, /nodes not named: (\d+) messages \(/);
      const of = head ? `${fmt(num(head[1]))} named nodes among ${fmt(num(head[2]))}` : '? named nodes';
      return [
        info(`targeted drain of ${of}, POST → all accepted`, accepted ? `${accepted[2]} s` : undefined),
        info(`targeted drain of ${of}, POST → ${done?.[1] ?? 'completed'}`, done ? `${done[2]} s` : undefined),
        info('commands sessions taken per second (acceptNextSession loops, a stand-in for one receiver per agent)', sessions ? `${sessions[2]}/s from POST (${sessions[3]}/s from the first to the last)` : undefined),
        info('messages received by the nodes not named', untouched ? `${untouched[1]} messages` : undefined, 'none set (any other value than 0 is a bug)'),
      ];
    },
  },
  {
    name: 'workforce CLI',
    script: 'bench:cli',
    issue: 19,
    figures(out) {
      const median = (label: string) => num(match(out, new RegExp(`^${label.replace(/[()]/g, '\\$&')}\\s+median\\s+(\\d+) ms`, 'm'))?.[1]);
      return [
        judged('workforce --help, median', median('workforce --help'), 'ms', '≤ 150 ms', (v) => v <= 150),
        judged('workforce drains against the local app, median', median('workforce drains (local app, 20 drains)'), 'ms', '≤ 400 ms', (v) => v <= 400),
        judged('npx workforce --help in a checkout, median', median('npx workforce --help (this checkout)'), 'ms', '≤ 2 s (the first one after npm ci)', (v) => v <= 2_000),
      ];
    },
  },
];
