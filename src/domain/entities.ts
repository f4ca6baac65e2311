// The Service Bus entities a topic needs, with the settings the control plane relies on.
// Plain data (ARM property names), so provisioning, `npm start` and the docs agree.

/** Long enough to cover an activity retried after a host restart; Azure allows up to 7 days. */
export const DUPLICATE_DETECTION_WINDOW = 'PT1H';

export const TOPIC_PROPERTIES = {
  // messageIds `<drainId>/<n>` make a retried publish harmless only with this on; it can only be set at creation.
  requiresDuplicateDetection: true,
  duplicateDetectionHistoryTimeWindow: DUPLICATE_DETECTION_WINDOW,
  defaultMessageTimeToLive: 'P1D',
} as const;

export const SHUTDOWN_SUBSCRIPTION_PROPERTIES = {
  // An agent holds the lock while it writes its state and signals; a minute is ample.
  lockDuration: 'PT1M',
  // A message no node can act on goes round every node a few times, then to the DLQ with a reason.
  maxDeliveryCount: 10,
  // An expired control message (notAfter passed, nobody took it) stays visible in the DLQ.
  deadLetteringOnMessageExpiration: true,
} as const;

export const REPORTS_QUEUE_PROPERTIES = {
  lockDuration: 'PT1M',
  // A malformed report fails every time: five tries, then the DLQ (see the reports trigger).
  maxDeliveryCount: 5,
  deadLetteringOnMessageExpiration: true,
  defaultMessageTimeToLive: 'P7D',
} as const;

/** The commands queue's duplicate detection window: as long as a command can wait (ackTimeout) and then some. */
export const COMMANDS_DUPLICATE_DETECTION_WINDOW = 'PT10M';

/**
 * A topic's commands queue (`<topic>-commands`): one session per node (`sessionId` = node id), so
 * a command reaches the one node it names. Its own queue, not a second subscription: Azure counts
 * 5,000 concurrent receive requests per entity across all subscriptions of a topic.
 */
export const COMMANDS_QUEUE_PROPERTIES = {
  requiresSession: true,
  // messageIds `<drainId>/<n>` make a retried publish harmless only with this on; set at creation only.
  requiresDuplicateDetection: true,
  duplicateDetectionHistoryTimeWindow: COMMANDS_DUPLICATE_DETECTION_WINDOW,
  // The session lock: an agent that crashed frees its session for its successor after this.
  lockDuration: 'PT30S',
  maxDeliveryCount: 10,
  // A command that no node took expires: its drain reports it; nobody reads a dead-letter queue of them.
  deadLetteringOnMessageExpiration: false,
} as const;
