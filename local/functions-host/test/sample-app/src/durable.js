import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { record } from './calls.js';

// ---- activities
export const sayHello = df.app.activity('sayHello', { handler: (name) => `Hello ${name}` });

const attempts = new Map();
// Fails until it has been called `failures` times for the same key.
df.app.activity('flaky', {
  handler: ({ key, failures }) => {
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    record('flaky', { key, attempt: n });
    if (n <= failures) throw new Error(`flaky failure ${n} for ${key}`);
    return { key, attempts: n };
  },
});

df.app.activity('double', { handler: (n) => n * 2 });

df.app.activity('alwaysFails', {
  handler: () => {
    throw new Error('this activity always fails');
  },
});

// ---- orchestrations
df.app.orchestration('helloSequence', function* (context) {
  const names = context.df.getInput() || ['Tokyo', 'Seattle', 'London'];
  const out = [];
  for (const name of names) out.push(yield context.df.callActivity('sayHello', name));
  return out;
});

df.app.orchestration('retrying', function* (context) {
  const { key, failures, attempts: max } = context.df.getInput();
  context.df.setCustomStatus({ phase: 'calling flaky' });
  const retry = new df.RetryOptions(1000, max);
  retry.backoffCoefficient = 2;
  if (context.df.getInput().timeoutMs) retry.retryTimeoutInMilliseconds = context.df.getInput().timeoutMs;
  try {
    const result = yield context.df.callActivityWithRetry('flaky', retry, { key, failures });
    context.df.setCustomStatus({ phase: 'done' });
    return { ok: true, result };
  } catch (err) {
    context.df.setCustomStatus({ phase: 'gave up' });
    return { ok: false, error: String(err.message).split('\n')[0] };
  }
});

df.app.orchestration('fanOut', function* (context) {
  const n = context.df.getInput();
  const tasks = [];
  for (let i = 1; i <= n; i++) tasks.push(context.df.callActivity('double', i));
  const results = yield context.df.Task.all(tasks);
  return results.reduce((a, b) => a + b, 0);
});

// External event or durable timer, whichever comes first (Task.any); the loser timer is cancelled.
df.app.orchestration('approval', function* (context) {
  const { timeoutSeconds } = context.df.getInput();
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutSeconds * 1000);
  const timer = context.df.createTimer(deadline);
  const approval = context.df.waitForExternalEvent('approve');
  context.df.setCustomStatus('waiting');
  const winner = yield context.df.Task.any([approval, timer]);
  if (winner === approval) {
    timer.cancel();
    return { approved: true, by: approval.result };
  }
  return { approved: false, timedOut: true };
});

df.app.orchestration('sleeper', function* (context) {
  const { seconds } = context.df.getInput();
  const start = context.df.currentUtcDateTime.getTime();
  yield context.df.createTimer(new Date(start + seconds * 1000));
  const greeting = yield context.df.callActivity('sayHello', 'after sleep');
  return { greeting, sleptMs: context.df.currentUtcDateTime.getTime() - start };
});

df.app.orchestration('waiter', function* (context) {
  const first = yield context.df.waitForExternalEvent('go');
  const second = yield context.df.waitForExternalEvent('go');
  return [first, second];
});

df.app.orchestration('counter', function* (context) {
  const n = context.df.getInput() ?? 0;
  context.df.setCustomStatus({ n });
  if (n < 3) {
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    context.df.continueAsNew(n + 1);
    return undefined;
  }
  return { final: n };
});

df.app.orchestration('parent', function* (context) {
  const child = yield context.df.callSubOrchestrator('helloSequence', ['Ann', 'Bob'], `${context.df.instanceId}-child`);
  let childFailure;
  try {
    yield context.df.callSubOrchestrator('failing');
  } catch (err) {
    childFailure = String(err.message).split('\n')[0];
  }
  return { child, childFailure };
});

df.app.orchestration('failing', function* (context) {
  yield context.df.callActivity('alwaysFails');
  return 'unreachable';
});

df.app.orchestration('replayHeavy', function* (context) {
  const n = context.df.getInput();
  let total = 0;
  for (let i = 0; i < n; i++) total += yield context.df.callActivity('double', i);
  return total;
});

// ---- HTTP endpoints that drive orchestrations through the durable client (df.getClient)
const clientInput = df.input.durableClient();

app.http('startOrchestration', {
  route: 'orchestrators/{name}/{instanceId?}',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [clientInput],
  handler: async (req, context) => {
    const client = df.getClient(context);
    const text = await req.text();
    const instanceId = await client.startNew(req.params.name, {
      input: text ? JSON.parse(text) : undefined,
      instanceId: req.params.instanceId,
    });
    context.log(`started ${req.params.name} as ${instanceId}`);
    return client.createCheckStatusResponse(req, instanceId);
  },
});

// Starts an orchestration after a pause: an invocation still in flight when the host closes.
app.http('slowStart', {
  route: 'slow-start/{name}/{instanceId}',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [clientInput],
  handler: async (req, context) => {
    await new Promise((resolve) => setTimeout(resolve, Number(req.query.get('delayMs') ?? 500)));
    const client = df.getClient(context);
    const instanceId = await client.startNew(req.params.name, { instanceId: req.params.instanceId });
    return client.createCheckStatusResponse(req, instanceId);
  },
});

app.http('orchestrationStatus', {
  route: 'status/{instanceId}',
  methods: ['GET'],
  authLevel: 'anonymous',
  extraInputs: [clientInput],
  handler: async (req, context) => {
    const client = df.getClient(context);
    try {
      const status = await client.getStatus(req.params.instanceId, {
        showHistory: req.query.get('history') === 'true',
        showHistoryOutput: req.query.get('history') === 'true',
      });
      return { jsonBody: status };
    } catch (err) {
      return { status: 404, jsonBody: { error: err.message } };
    }
  },
});

app.http('listOrchestrations', {
  route: 'instances',
  methods: ['GET'],
  authLevel: 'anonymous',
  extraInputs: [clientInput],
  handler: async (_req, context) => ({ jsonBody: await df.getClient(context).getStatusAll() }),
});

app.http('raiseEvent', {
  route: 'raise/{instanceId}/{event}',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [clientInput],
  handler: async (req, context) => {
    const text = await req.text();
    await df.getClient(context).raiseEvent(req.params.instanceId, req.params.event, text ? JSON.parse(text) : undefined);
    return { status: 202 };
  },
});

app.http('terminateOrchestration', {
  route: 'terminate/{instanceId}',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [clientInput],
  handler: async (req, context) => {
    await df.getClient(context).terminate(req.params.instanceId, req.query.get('reason') ?? 'stopped by test');
    return { status: 202 };
  },
});

app.http('purgeOrchestration', {
  route: 'purge/{instanceId}',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  extraInputs: [clientInput],
  handler: async (req, context) => ({ jsonBody: await df.getClient(context).purgeInstanceHistory(req.params.instanceId) }),
});

// Counts "add" events until "stop"; its history grows by one episode per event (used by the benchmark).
df.app.orchestration('tally', function* (context) {
  let n = 0;
  for (;;) {
    const event = yield context.df.waitForExternalEvent('add');
    if (event === 'stop') return n;
    n++;
    context.df.setCustomStatus(n);
  }
});

// A child that fails on its first run (its activity fails once), retried by the parent.
df.app.orchestration('flakyChild', function* (context) {
  return yield context.df.callActivity('flaky', { key: context.df.getInput().key, failures: 1 });
});

df.app.orchestration('retryingParent', function* (context) {
  const retry = new df.RetryOptions(1000, 3);
  return yield context.df.callSubOrchestratorWithRetry('flakyChild', retry, { key: context.df.getInput().key });
});

// Durable HTTP: the engine makes the request.
df.app.orchestration('httpCaller', function* (context) {
  const res = yield context.df.callHttp({ method: 'GET', url: context.df.getInput().url });
  return { statusCode: res.statusCode, content: res.content };
});
