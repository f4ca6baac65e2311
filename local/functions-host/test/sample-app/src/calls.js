// What the app's functions saw, kept in the worker process and read back over HTTP by the tests.
import { app } from '@azure/functions';

const calls = [];

export function record(fn, data) {
  calls.push({ fn, at: new Date().toISOString(), ...data });
}

app.http('calls', {
  route: 'calls/{fn?}',
  methods: ['GET', 'DELETE'],
  authLevel: 'anonymous',
  handler: (req) => {
    if (req.method === 'DELETE') {
      calls.length = 0;
      return { status: 204 };
    }
    const fn = req.params.fn;
    return { jsonBody: fn ? calls.filter((c) => c.fn === fn) : calls };
  },
});
