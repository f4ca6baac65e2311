// Catalogue entities as ARM resources: the JSON that `GET .../queues/{q}` returns on Azure
// (api-version 2021-11-01 and later), with ISO-8601 durations, counts and timestamps.
import type {
  EntityRuntimeInfo,
  QueueInfo,
  RuleDescription,
  SubscriptionInfo,
  TopicInfo,
} from '../broker/catalogue.js';
import { MAX_TIMESPAN_MS, formatIsoDuration } from './durations.js';
import { ruleToArmProperties } from './properties.js';

/** Where the namespace sits in ARM: echoed from the request URL (any names are accepted). */
export interface NamespaceRef {
  subscriptionId: string;
  resourceGroup: string;
  namespace: string;
}

export interface NamespaceDescription {
  /** `sb://host:port/` of the AMQP listener. */
  serviceBusEndpoint: string;
  location: string;
  createdAt: Date;
}

export interface ArmResource {
  id: string;
  name: string;
  type: string;
  location?: string;
  properties: Record<string, unknown>;
  [key: string]: unknown;
}

export function namespaceId(ref: NamespaceRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.ServiceBus/namespaces/${ref.namespace}`;
}

export function namespaceResource(ref: NamespaceRef, ns: NamespaceDescription): ArmResource {
  const created = ns.createdAt.toISOString();
  return {
    id: namespaceId(ref),
    name: ref.namespace,
    type: 'Microsoft.ServiceBus/Namespaces',
    location: ns.location,
    tags: {},
    sku: { name: 'Standard', tier: 'Standard' },
    properties: {
      provisioningState: 'Succeeded',
      status: 'Active',
      createdAt: created,
      updatedAt: created,
      serviceBusEndpoint: ns.serviceBusEndpoint,
      metricId: `${ref.subscriptionId}:${ref.namespace}`,
      zoneRedundant: false,
      disableLocalAuth: false,
      minimumTlsVersion: '1.2',
      publicNetworkAccess: 'Enabled',
    },
  };
}

const NOT_MODELLED = {
  status: 'Active',
  enableBatchedOperations: true,
  autoDeleteOnIdle: formatIsoDuration(MAX_TIMESPAN_MS),
};

function timestamps(info: Pick<EntityRuntimeInfo, 'createdAt' | 'updatedAt'>) {
  return { createdAt: info.createdAt.toISOString(), updatedAt: info.updatedAt.toISOString() };
}

function countDetails(info: Partial<EntityRuntimeInfo>) {
  return {
    activeMessageCount: info.activeMessageCount ?? 0,
    deadLetterMessageCount: info.deadLetterMessageCount ?? 0,
    scheduledMessageCount: info.scheduledMessageCount ?? 0,
    transferMessageCount: 0,
    transferDeadLetterMessageCount: 0,
  };
}

export function queueResource(ref: NamespaceRef, queue: QueueInfo): ArmResource {
  const p = queue.properties;
  return {
    id: `${namespaceId(ref)}/queues/${queue.name}`,
    name: queue.name,
    type: 'Microsoft.ServiceBus/Namespaces/Queues',
    properties: {
      ...timestamps(queue),
      messageCount: queue.messageCount,
      countDetails: countDetails(queue),
      lockDuration: formatIsoDuration(p.lockDurationMs),
      maxSizeInMegabytes: p.maxSizeInMegabytes,
      maxMessageSizeInKilobytes: Math.floor(p.maxMessageSizeInBytes / 1024),
      requiresDuplicateDetection: p.requiresDuplicateDetection,
      requiresSession: p.requiresSession,
      defaultMessageTimeToLive: formatIsoDuration(p.defaultMessageTimeToLiveMs),
      deadLetteringOnMessageExpiration: p.deadLetteringOnMessageExpiration,
      duplicateDetectionHistoryTimeWindow: formatIsoDuration(p.duplicateDetectionHistoryTimeWindowMs),
      maxDeliveryCount: p.maxDeliveryCount,
      ...NOT_MODELLED,
      enablePartitioning: false,
      enableExpress: false,
    },
  };
}

export function topicResource(ref: NamespaceRef, topic: TopicInfo): ArmResource {
  const p = topic.properties;
  return {
    id: `${namespaceId(ref)}/topics/${topic.name}`,
    name: topic.name,
    type: 'Microsoft.ServiceBus/Namespaces/Topics',
    properties: {
      ...timestamps(topic),
      subscriptionCount: topic.subscriptionCount,
      countDetails: countDetails({ scheduledMessageCount: topic.scheduledMessageCount }),
      defaultMessageTimeToLive: formatIsoDuration(p.defaultMessageTimeToLiveMs),
      maxSizeInMegabytes: p.maxSizeInMegabytes,
      maxMessageSizeInKilobytes: Math.floor(p.maxMessageSizeInBytes / 1024),
      requiresDuplicateDetection: p.requiresDuplicateDetection,
      duplicateDetectionHistoryTimeWindow: formatIsoDuration(p.duplicateDetectionHistoryTimeWindowMs),
      ...NOT_MODELLED,
      supportOrdering: true,
      enablePartitioning: false,
      enableExpress: false,
    },
  };
}

export function subscriptionResource(ref: NamespaceRef, topicName: string, sub: SubscriptionInfo): ArmResource {
  const p = sub.properties;
  return {
    id: `${namespaceId(ref)}/topics/${topicName}/subscriptions/${sub.name}`,
    name: sub.name,
    type: 'Microsoft.ServiceBus/Namespaces/Topics/Subscriptions',
    properties: {
      ...timestamps(sub),
      messageCount: sub.messageCount,
      countDetails: countDetails(sub),
      lockDuration: formatIsoDuration(p.lockDurationMs),
      requiresSession: p.requiresSession,
      defaultMessageTimeToLive: formatIsoDuration(p.defaultMessageTimeToLiveMs),
      deadLetteringOnFilterEvaluationExceptions: true,
      deadLetteringOnMessageExpiration: p.deadLetteringOnMessageExpiration,
      maxDeliveryCount: p.maxDeliveryCount,
      ...NOT_MODELLED,
      isClientAffine: false,
    },
  };
}

export function ruleResource(ref: NamespaceRef, topicName: string, subscriptionName: string, rule: RuleDescription): ArmResource {
  return {
    id: `${namespaceId(ref)}/topics/${topicName}/subscriptions/${subscriptionName}/rules/${rule.name}`,
    name: rule.name,
    type: 'Microsoft.ServiceBus/Namespaces/Topics/Subscriptions/Rules',
    properties: ruleToArmProperties(rule),
  };
}
