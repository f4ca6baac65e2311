import { app } from '@azure/functions';
import { record } from './calls.js';

// Registered only when the tests give the app a Service Bus to listen to. A message `{ fail: true }`
// makes the function throw: for one message, or for the whole batch it came in.
const refused = (message) => message && typeof message === 'object' && message.fail;

function handler(kind) {
  return (message, context) => {
    record(kind, { message, triggerMetadata: context.triggerMetadata });
    if (refused(message)) throw new Error(`refusing ${JSON.stringify(message)}`);
  };
}

function batchHandler(kind) {
  return (messages, context) => {
    record(kind, { messages, triggerMetadata: context.triggerMetadata });
    const poison = messages.find(refused);
    if (poison) throw new Error(`refusing the batch for ${JSON.stringify(poison)}`);
  };
}

if (process.env.SB_QUEUE) {
  app.serviceBusQueue('sbQueue', { connection: 'ServiceBusConnection', queueName: '%SB_QUEUE%', handler: handler('sbQueue') });
}
if (process.env.SB_TOPIC) {
  app.serviceBusTopic('sbTopic', {
    connection: 'ServiceBusConnection',
    topicName: '%SB_TOPIC%',
    subscriptionName: '%SB_SUBSCRIPTION%',
    handler: handler('sbTopic'),
  });
}
if (process.env.SB_BATCH_QUEUE) {
  app.serviceBusQueue('sbBatch', { connection: 'ServiceBusConnection', queueName: '%SB_BATCH_QUEUE%', cardinality: 'many', handler: batchHandler('sbBatch') });
}
if (process.env.SB_POISON_BATCH_QUEUE) {
  app.serviceBusQueue('sbPoisonBatch', { connection: 'ServiceBusConnection', queueName: '%SB_POISON_BATCH_QUEUE%', cardinality: 'many', handler: batchHandler('sbPoisonBatch') });
}
