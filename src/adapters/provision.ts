// Provisioning of one topic: the topic, its `shutdown` subscription, its commands queue and the
// reports queue.

import type { TokenCredential } from '@azure/core-auth';
import { commandsQueueName } from '@workforce/worker-agent/contract';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION, type ArmSettings } from '../config.js';
import { COMMANDS_QUEUE_PROPERTIES, REPORTS_QUEUE_PROPERTIES, SHUTDOWN_SUBSCRIPTION_PROPERTIES, TOPIC_PROPERTIES } from '../domain/entities.js';
import { armClient, getOrCreate, type EntityOutcome } from './arm.js';

export async function provisionTopic(settings: ArmSettings, topic: string): Promise<EntityOutcome[]> {
  const arm = armClient(settings);
  const { resourceGroup: rg, namespace: ns } = settings;
  const outcomes: EntityOutcome[] = [];
  // In order: a subscription needs its topic.
  outcomes.push(
    await getOrCreate('topic', topic, () => arm.topics.get(rg, ns, topic), () => arm.topics.createOrUpdate(rg, ns, topic, TOPIC_PROPERTIES), TOPIC_PROPERTIES),
  );
  outcomes.push(
    await getOrCreate(
      'subscription',
      `${topic}/${SHUTDOWN_SUBSCRIPTION}`,
      () => arm.subscriptions.get(rg, ns, topic, SHUTDOWN_SUBSCRIPTION),
      () => arm.subscriptions.createOrUpdate(rg, ns, topic, SHUTDOWN_SUBSCRIPTION, SHUTDOWN_SUBSCRIPTION_PROPERTIES),
      SHUTDOWN_SUBSCRIPTION_PROPERTIES,
    ),
  );
  const commands = commandsQueueName(topic);
  outcomes.push(
    await getOrCreate('queue', commands, () => arm.queues.get(rg, ns, commands), () => arm.queues.createOrUpdate(rg, ns, commands, COMMANDS_QUEUE_PROPERTIES), COMMANDS_QUEUE_PROPERTIES),
  );
  outcomes.push(await provisionReportsQueue(settings));
  return outcomes;
}

/**
 * The reports queue alone: every topic's agents report there (`npm start` creates it up front,
 * with `credential` when it acts for an app that has its own identity).
 */
export async function provisionReportsQueue(settings: ArmSettings, credential?: TokenCredential): Promise<EntityOutcome> {
  const arm = armClient(settings, credential);
  const { resourceGroup: rg, namespace: ns } = settings;
  return getOrCreate(
    'queue',
    REPORTS_QUEUE,
    () => arm.queues.get(rg, ns, REPORTS_QUEUE),
    () => arm.queues.createOrUpdate(rg, ns, REPORTS_QUEUE, REPORTS_QUEUE_PROPERTIES),
    REPORTS_QUEUE_PROPERTIES,
  );
}
