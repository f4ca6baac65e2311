import { app } from '@azure/functions';

// Hooks run through the host's core API: preInvocation tags HTTP responses of `ping`.
app.hook.postInvocation((context) => {
  if (context.invocationContext.functionName === 'ping' && context.result) {
    context.result.headers = { ...(context.result.headers ?? {}), 'x-post-hook': 'seen' };
  }
});
