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
