// Example Node worker: takes tasks of known duration from a local directory queue, one at a
// time, and records what it did (in the queue's events.jsonl, and one line each on stdout). On a
// drain it finishes the task in flight and exits; while the node's intake is stopped it stays
// alive and idle. Queue tasks with `npm run tasks -w worker-agent -- add 5`. From the repository:
//
//   npm run bundle:example -w worker-agent     # once: worker-agent/dist/example-worker.mjs
//   node worker-agent/dist/example-worker.mjs --topic eu-west [--queue DIR] [--worker-id w1] [--intake-signal SIGUSR1] [--resume-signal SIGUSR2]
//
// The bundle has the worker library inside and runs anywhere with Node ≥ 20. Without bundling:
// `npx tsx --conditions=source worker-agent/examples/node/worker.ts --topic eu-west`.
// The queue defaults to $TMPDIR/workforce/queue, the PID directory to WORKFORCE_PID_DIR or
// $TMPDIR/workforce/pids (the agent's default too).

import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { registerWorker, type SignalName } from '@workforce/worker-agent/worker';
import { DEFAULT_QUEUE_DIR, LocalQueue } from '../local-queue.js';

const { values } = parseArgs({
  options: {
    queue: { type: 'string' },
    topic: { type: 'string' },
    'worker-id': { type: 'string' },
    'intake-signal': { type: 'string' },
    'resume-signal': { type: 'string' },
    'idle-poll-ms': { type: 'string', default: '20' },
  },
});
if (!values.topic) {
  console.error(`usage: worker --topic TOPIC [--queue DIR, default ${DEFAULT_QUEUE_DIR}] [--worker-id ID] [--intake-signal SIG] [--resume-signal SIG]`);
  process.exit(2);
}

const queue = new LocalQueue(values.queue ?? DEFAULT_QUEUE_DIR);
const worker = registerWorker({
  topic: values.topic,
  ...(values['worker-id'] ? { workerId: values['worker-id'] } : {}),
  signals: {
    'graceful-downscale': 'SIGTERM',
    'do-not-accept-new-tasks': (values['intake-signal'] as SignalName | undefined) ?? null,
    resume: (values['resume-signal'] as SignalName | undefined) ?? null,
  },
});
const id = worker.workerId;
/** Records an event in the queue and says it on stdout, one short line. */
function note(event: string, fields: Record<string, unknown> = {}, says: string = event): void {
  queue.record(event, id, fields);
  console.log(`${new Date().toISOString().slice(11, 19)} ${id}: ${says}`);
}
worker.onDrain(({ signal }) => note('drain-requested', { signal }, `drain requested (${signal}): finishing the task in flight, then exiting`));
worker.onIntakeStop(({ signal }) => note('intake-signal', { signal }, `intake stop signalled (${signal})`));
worker.onResume(({ signal }) => note('resume-signal', { signal }, `resume signalled (${signal})`));
// Ctrl-C in the terminal: stop at once, as the Python example does. Node's default for SIGINT
// ends the process without its 'exit' handlers, which would leave the PID file behind.
process.once('SIGINT', () => {
  console.log('interrupted');
  void worker.close().finally(() => process.exit(130));
});
note('registered', { pid: process.pid }, `registered (pid ${process.pid}, topic ${values.topic}), taking tasks from ${queue.dir}`);

const idleMs = Number(values['idle-poll-ms']);
let idle = false;
while (!worker.signal.aborted) {
  if (!worker.acceptingTasks()) {
    if (!idle) note('idle', { why: 'intake-stopped' }, 'intake stopped: taking no new task');
    idle = true;
    await sleep(idleMs);
    continue;
  }
  if (idle) note('resumed', {}, 'intake resumed: taking tasks again');
  idle = false;
  const task = queue.claim();
  if (!task) {
    await sleep(idleMs);
    continue;
  }
  note('started', { taskId: task.taskId }, `started ${task.taskId} (${task.durationMs} ms)`);
  await sleep(task.durationMs); // the work; never cut short by a drain
  queue.finish(task, id);
  note('finished', { taskId: task.taskId }, `finished ${task.taskId}`);
}
note('exiting');
await worker.close();
