// Simulated agents taking per-node commands (one process of bench/targeted.ts's fleet): `loops`
// concurrent `acceptNextSession` loops on the topic's commands queue, each taking whatever node's
// session has a command, as a stand-in for one session receiver per agent (a real agent holds its
// own session from start-up; here a session is accepted only once it has a message, and closed
// after). Each command is answered as a real agent's outbox would: `accepted` and `signalled`
// coalesced into one message, then `drained` in a message of its own once the "workers" exited
// (here: with the next flush), sent in batches as a fleet's agents would send them.
// A command in the session of a node the drain did not name, or whose `nodeId` is not its
// session's, is counted (it would be a bug) and answered with nothing.
// Runs until its stdin closes, then until no session is left within one accept timeout; prints
// one JSON line: what it took, the sessions, and the counts of wrong deliveries.
//
// With <held first> <held count> (BENCH_SESSIONS=held), it holds instead one session receiver
// per node sim-<first>..sim-<first+count-1>, accepted before `ready` and kept until stdin closes.
//
//   tsx bench/session-agents.ts <connection string> <topic> <named nodes file> <process index> <loops> [<held first> <held count>]

import { readFileSync } from 'node:fs';
import { ServiceBusClient, isServiceBusError, type ServiceBusReceivedMessage, type ServiceBusSessionReceiver } from '@azure/service-bus';
import { coalesceReports, commandsQueueName, type AgentReport, type CommandMessage, type ReportState } from '@workforce/worker-agent/contract';
import { sendBatches } from '../src/adapters/service-bus.js';
import { REPORTS_QUEUE } from '../src/config.js';

const [connectionString, topic, namedFile, indexText, loopsText] = process.argv.slice(2);
if (!connectionString || !topic || !namedFile || !indexText || !loopsText) {
  console.error('usage: session-agents <connection string> <topic> <named nodes file> <process index> <loops>');
  process.exit(2);
}
const named = new Set((JSON.parse(readFileSync(namedFile, 'utf8')) as string[]).map((id) => id.toLowerCase()));
const queue = commandsQueueName(topic);
/** How long an accept waits for a session with a message before it answers ServiceTimeout. */
const ACCEPT_TIMEOUT_MS = Number(process.env.BENCH_ACCEPT_TIMEOUT_MS ?? 3_000);
// Two clients: the accepts' short timeout (no retries: a timeout means "no session now") must not
// apply to the reports, which retry as the agent's sends do.
const sessions = new ServiceBusClient(connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: ACCEPT_TIMEOUT_MS } });
const reports = new ServiceBusClient(connectionString);

let stopping = false;
process.stdin.on('close', () => (stopping = true)).resume();

const taken: string[] = [];
let firstTakenAt: number | undefined;
let lastTakenAt: number | undefined;
let wrongSession = 0;
let wrongNodeId = 0;
let acceptErrors = 0;
let messages = 0;

let now: AgentReport[] = [];
let later: AgentReport[] = [];
let drained: AgentReport[] = [];
const reportsOf = (m: ServiceBusReceivedMessage, nodeId: string) => (state: ReportState): AgentReport => {
  const body = m.body as CommandMessage;
  return {
    ...(body.drainId !== undefined && { drainId: body.drainId }),
    messageId: String(m.messageId), nodeId, topic, state, at: new Date().toISOString(),
    workers: [{ workerId: `${nodeId}-w0`, pid: 10_000 + taken.length }],
  };
};
const key = (r: AgentReport) => [...(r.earlier ?? []).map((s) => s.state), r.state].join('+');
async function send(batch: AgentReport[]): Promise<void> {
  if (batch.length === 0) return;
  const wire = coalesceReports(batch);
  messages += wire.length;
  await sendBatches(reports, REPORTS_QUEUE, wire.map((r) => ({ body: r, contentType: 'application/json', messageId: `${r.messageId}/${r.nodeId}/${key(r)}` })));
}
/** The nodes of the previous flush drained meanwhile; this flush's nodes accepted and signalled. */
async function flush(): Promise<void> {
  const batch = [...drained, ...now];
  drained = later;
  now = [];
  later = [];
  await send(batch);
}

/** Checks a command against its session and answers it, as the node's agent would. */
function take(sessionId: string, m: ServiceBusReceivedMessage): void {
  const body = m.body as CommandMessage;
  if (!named.has(sessionId.toLowerCase())) {
    wrongSession++;
    return;
  }
  if (typeof body?.nodeId !== 'string' || body.nodeId.toLowerCase() !== sessionId.toLowerCase()) {
    wrongNodeId++;
    return;
  }
  taken.push(sessionId);
  const at = Date.now();
  firstTakenAt ??= at;
  lastTakenAt = at;
  const report = reportsOf(m, sessionId);
  now.push(report('accepted'), report('signalled'));
  later.push(report('drained'));
}

async function loop(): Promise<void> {
  for (;;) {
    let receiver;
    try {
      receiver = await sessions.acceptNextSession(queue, { maxAutoLockRenewalDurationInMs: 0 });
    } catch (err) {
      if (isServiceBusError(err) && err.code === 'ServiceTimeout') {
        if (stopping) return;
        continue;
      }
      acceptErrors++;
      console.error(`session agents ${indexText}: acceptNextSession failed: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      // One at a time: the SDK waits up to 1 s after a first message for more. A second message
      // in a session comes back with the next accept (and is counted as taken twice).
      const got = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
      for (const m of got) {
        await receiver.completeMessage(m);
        take(receiver.sessionId, m);
      }
    } finally {
      await receiver.close();
    }
  }
}

/**
 * Held mode: one session receiver per node, accepted before the drain and kept, as agents hold
 * theirs (but `count` of them on this process's one connection, not one connection each).
 */
async function hold(first: number, count: number): Promise<() => Promise<void>> {
  const receivers: ServiceBusSessionReceiver[] = [];
  const ids = Array.from({ length: count }, (_, i) => `sim-${String(first + i).padStart(5, '0')}`); // as bench/presence-senders.ts names them
  // A few at a time: the SDK negotiates a claim per link, and many at once time out on a busy machine.
  // Locks renewed for as long as the run lasts, as an agent's are.
  for (let i = 0; i < ids.length; i += 10) {
    receivers.push(...(await Promise.all(ids.slice(i, i + 10).map((id) => reports.acceptSession(queue, id, { maxAutoLockRenewalDurationInMs: 60 * 60_000 })))));
  }
  for (const r of receivers) {
    r.subscribe({
      processMessage: async (m) => take(r.sessionId, m),
      processError: async (e) => {
        acceptErrors++;
        console.error(`session agents ${indexText}: session ${r.sessionId}: ${String(e.error)}`);
      },
    });
  }
  return async () => {
    await new Promise<void>((resolve) => (stopping ? resolve() : process.stdin.once('close', () => resolve())));
    await Promise.all(receivers.map((r) => r.close()));
  };
}

const [heldFirst, heldCount] = [process.argv[7], process.argv[8]].map(Number);
let flushing = true;
const flusher = (async () => {
  while (flushing) {
    await new Promise((r) => setTimeout(r, 200));
    await flush();
  }
})();
const release = heldCount ? await hold(heldFirst!, heldCount) : undefined;
console.log('ready'); // the benchmark posts the drain once every process got this far
if (release) await release();
else await Promise.all(Array.from({ length: Number(loopsText) }, () => loop()));
flushing = false;
await flusher;
await flush(); // the last accepted ones, and the drained of the one before
await flush(); // their drained
await sessions.close();
await reports.close();
console.log(JSON.stringify({ process: Number(indexText), taken, firstTakenAt, lastTakenAt, wrongSession, wrongNodeId, acceptErrors, messages }));
