import { app } from '@azure/functions';

// Anonymous, optional route parameter, app setting from local.settings.json.
app.http('hello', {
  route: 'hello/{name?}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (req, context) => {
    context.log(`hello called for ${req.params.name ?? 'nobody'}`);
    const name = req.params.name ?? req.query.get('name') ?? 'world';
    return { body: `${process.env.GREETING}, ${name}!`, headers: { 'x-invocation-id': context.invocationId } };
  },
});

// Function key, typed route parameter, several methods, JSON in and out, cookies.
app.http('items', {
  route: 'items/{id:int}',
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'function',
  handler: async (req) => {
    const id = Number(req.params.id);
    if (req.method === 'PUT') {
      const body = await req.json();
      return { status: 201, jsonBody: { id, ...body }, cookies: [{ name: 'last', value: String(id), path: '/', httpOnly: true }] };
    }
    if (req.method === 'DELETE') return { status: 204 };
    return { jsonBody: { id, method: req.method, query: Object.fromEntries(req.query) } };
  },
});

app.http('adminOnly', {
  route: 'admin-only',
  authLevel: 'admin',
  handler: () => ({ body: 'secret' }),
});

app.http('boom', {
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: () => {
    throw new Error('kaboom');
  },
});

app.http('ping', {
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: () => ({ body: 'pong' }),
});

// Kills the worker process mid-invocation: the host must answer, restart the worker and go on.
app.http('crash', {
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: () => {
    setImmediate(() => process.exit(3));
    return new Promise(() => {});
  },
});
