// Queues tasks for the example workers (examples/local-queue.ts; README "Try it"):
//   npm run tasks -w worker-agent -- add 5 [--ms 3000] [--queue DIR]
//   npm run tasks -w worker-agent -- list [--queue DIR]
// The default queue is the one the example workers take tasks from when given none.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_QUEUE_DIR, LocalQueue } from './local-queue.js';

const USAGE = `usage: tasks add <count> [--ms <task duration, default 3000>] [--queue <dir>]
       tasks list [--queue <dir>]
(default queue: ${DEFAULT_QUEUE_DIR})`;

/** `tasks add N` / `tasks list`: what to print, and the exit code. Relative paths are taken from `cwd`. */
export function tasksCommand(argv: string[], cwd: string): { code: number; text: string } {
  const negative = argv.find((a) => /^-\d/.test(a));
  if (negative !== undefined) return { code: 2, text: `tasks: ${negative} is negative: add takes a count, an integer ≥ 1, and --ms, an integer ≥ 0\n${USAGE}` };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { queue: { type: 'string' }, ms: { type: 'string' }, help: { type: 'boolean' } } });
  } catch (err) {
    return { code: 2, text: `tasks: ${(err as Error).message}\n${USAGE}` };
  }
  const { values, positionals } = parsed;
  const [command, count, ...extra] = positionals;
  if (values.help) return { code: 0, text: USAGE };
  const queue = new LocalQueue(resolve(cwd, values.queue ?? DEFAULT_QUEUE_DIR));
  if (command === 'list' && count === undefined) {
    return { code: 0, text: `${queue.dir}: ${queue.pending().length} pending, ${queue.running().length} running, ${queue.done().length} done` };
  }
  if (command !== 'add') return { code: 2, text: `tasks: unknown command ${JSON.stringify(command ?? '')}\n${USAGE}` };
  const n = Number(count);
  const ms = Number(values.ms ?? 3000);
  if (extra.length > 0 || !Number.isInteger(n) || n < 1) return { code: 2, text: `tasks: add takes a count, an integer ≥ 1 (got ${JSON.stringify([count, ...extra].join(' '))})\n${USAGE}` };
  if (!Number.isInteger(ms) || ms < 0) return { code: 2, text: `tasks: --ms is a task's duration in ms, an integer ≥ 0 (got ${JSON.stringify(values.ms)})\n${USAGE}` };
  const stamp = Date.now().toString(36);
  for (let i = 1; i <= n; i++) queue.enqueue(`task-${stamp}-${String(i).padStart(3, '0')}`, ms);
  return { code: 0, text: `queued ${n} task(s) of ${ms} ms in ${queue.dir} (${queue.pending().length} pending)` };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `npm run -w` runs in the package's folder; INIT_CWD is where the command was typed.
  const { code, text } = tasksCommand(process.argv.slice(2), process.env['INIT_CWD'] ?? process.cwd());
  (code === 0 ? process.stdout : process.stderr).write(`${text}\n`);
  process.exitCode = code;
}
