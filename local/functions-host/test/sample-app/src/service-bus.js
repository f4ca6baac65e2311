import { app } from '@azure/functions';
import { record } from './calls.js';

// Registered only when the tests give the app a Service Bus to listen to.
function handler(kind) {
  return (message, context) => {
    record(kind, { message, triggerMetadata: context.triggerMetadata });
    if (message && typeof message === 'object' && message.fail) throw new Error(`refusing ${JSON.stringify(message)}`);
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
  app.serviceBusQueue('sbBatch', {
    connection: 'ServiceBusConnection',
    queueName: '%SB_BATCH_QUEUE%',
    cardinality: 'many',
    handler: (messages, context) => {
      record('sbBatch', { messages, triggerMetadata: context.triggerMetadata });
    },
  });
}
if (process.env.SB_POISON_BATCH_QUEUE) {
  app.serviceBusQueue('sbPoisonBatch', {
    connection: 'ServiceBusConnection',
    queueName: '%SB_POISON_BATCH_QUEUE%',
    cardinality: 'many',
    handler: (messages, context) => {
      record('sbPoisonBatch', { messages, triggerMetadata: context.triggerMetadata });
      const poison = messages.find((m) => m && typeof m === 'object' && m.fail);
      if (poison) throw new Error(`refusing the batch for ${JSON.stringify(poison)}`);
    },
  });
}
