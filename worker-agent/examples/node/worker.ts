// Example Node worker: takes tasks of known duration from a local directory queue, one at a
// time, and records what it finished. On a drain it finishes the task in flight and exits; while
// the node's intake is stopped it stays alive and idle.
//
//   node worker.js --queue /tmp/q --topic eu-west [--worker-id w1] [--intake-signal SIGUSR1]

import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { registerWorker, type SignalName } from '@workforce/worker-agent/worker';
import { LocalQueue } from '../local-queue.js';

const { values } = parseArgs({
  options: {
    queue: { type: 'string' },
    topic: { type: 'string' },
    'worker-id': { type: 'string' },
    'intake-signal': { type: 'string' },
    'idle-poll-ms': { type: 'string', default: '20' },
  },
});
if (!values.queue || !values.topic) {
  console.error('usage: worker --queue DIR --topic TOPIC [--worker-id ID] [--intake-signal SIG]');
  process.exit(2);
}

const queue = new LocalQueue(values.queue);
const worker = registerWorker({
  topic: values.topic,
  ...(values['worker-id'] ? { workerId: values['worker-id'] } : {}),
  signals: {
    'graceful-downscale': 'SIGTERM',
    'do-not-accept-new-tasks': (values['intake-signal'] as SignalName | undefined) ?? null,
  },
});
const id = worker.workerId;
worker.onDrain(({ signal }) => queue.record('drain-requested', id, { signal }));
worker.onIntakeStop(({ signal }) => queue.record('intake-signal', id, { signal }));
queue.record('registered', id, { pid: process.pid });

const idleMs = Number(values['idle-poll-ms']);
let idle = false;
while (!worker.signal.aborted) {
  if (!worker.acceptingTasks()) {
    if (!idle) queue.record('idle', id, { why: 'intake-stopped' });
    idle = true;
    await sleep(idleMs);
    continue;
  }
  if (idle) queue.record('resumed', id);
  idle = false;
  const task = queue.claim();
  if (!task) {
    await sleep(idleMs);
    continue;
  }
  queue.record('started', id, { taskId: task.taskId });
  await sleep(task.durationMs); // the work; never cut short by a drain
  queue.finish(task, id);
  queue.record('finished', id, { taskId: task.taskId });
}
queue.record('exiting', id);
await worker.close();
