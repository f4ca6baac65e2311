import { app } from '@azure/functions';
import { record } from './calls.js';

app.timer('tick', {
  schedule: '%TICK_SCHEDULE%',
  runOnStartup: process.env.TICK_RUN_ON_STARTUP === 'true',
  handler: (timer, context) => {
    record('tick', { isPastDue: timer.isPastDue, scheduleStatus: timer.scheduleStatus, invocationId: context.invocationId });
  },
});
