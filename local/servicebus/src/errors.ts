// The single factory of wire errors. Every error the emulator reports to a client (AMQP link
// detach, rejected transfer, management reply, ARM response) is an `EmulatorError` created here,
// so that codes, AMQP conditions and status codes stay consistent across the surfaces.
import { randomUUID } from 'node:crypto';

export type EmulatorErrorCode =
  | 'MessagingEntityNotFound'
  | 'MessagingEntityAlreadyExists'
  | 'InvalidEntityProperties'
  | 'MessageLockLost'
  | 'MessageNotFound'
  | 'MessageSizeExceeded'
  | 'SessionCannotBeLocked'
  | 'SessionLockLost'
  | 'InvalidOperation'
  | 'OperationTimeout'
  | 'Unauthorized'
  | 'InvalidRequest'
  | 'InvalidOperation'
  | 'NotImplemented'
  | 'InvalidConfiguration'
  | 'ServiceUnavailable'
  | 'InternalError';

interface WireMapping {
  /** AMQP error condition understood by the Service Bus SDKs. */
  condition: string;
  /** Status code of a `$management` / `$cbs` reply; also the HTTP status for ARM. */
  statusCode: number;
}

const wire: Record<EmulatorErrorCode, WireMapping> = {
  MessagingEntityNotFound: { condition: 'amqp:not-found', statusCode: 404 },
  MessagingEntityAlreadyExists: { condition: 'com.microsoft:entity-already-exists', statusCode: 409 },
  InvalidEntityProperties: { condition: 'com.microsoft:argument-error', statusCode: 400 },
  MessageLockLost: { condition: 'com.microsoft:message-lock-lost', statusCode: 410 },
  MessageNotFound: { condition: 'com.microsoft:message-not-found', statusCode: 404 },
  MessageSizeExceeded: { condition: 'amqp:link:message-size-exceeded', statusCode: 413 },
  SessionCannotBeLocked: { condition: 'com.microsoft:session-cannot-be-locked', statusCode: 410 },
  SessionLockLost: { condition: 'com.microsoft:session-lock-lost', statusCode: 410 },
  InvalidOperation: { condition: 'amqp:not-allowed', statusCode: 400 },
  OperationTimeout: { condition: 'com.microsoft:timeout', statusCode: 408 },
  Unauthorized: { condition: 'amqp:unauthorized-access', statusCode: 401 },
  InvalidRequest: { condition: 'com.microsoft:argument-error', statusCode: 400 },
  NotImplemented: { condition: 'amqp:not-implemented', statusCode: 501 },
  InvalidConfiguration: { condition: 'amqp:invalid-field', statusCode: 400 },
  ServiceUnavailable: { condition: 'com.microsoft:server-busy', statusCode: 503 },
  InternalError: { condition: 'amqp:internal-error', statusCode: 500 },
};

export class EmulatorError extends Error {
  override readonly name = 'EmulatorError';
  /** AMQP error condition, e.g. `amqp:not-found`. */
  readonly condition: string;
  /** HTTP-like status code (management replies, ARM). */
  readonly statusCode: number;
  /** For `MessagingEntityNotFound`: the path of the missing entity. */
  entityPath: string | undefined;
  /** For a missing claim: the entity path, named in Azure's tracking suffix. */
  trackedPath: string | undefined;

  constructor(
    readonly code: EmulatorErrorCode,
    message: string,
  ) {
    super(message);
    this.condition = wire[code].condition;
    this.statusCode = wire[code].statusCode;
  }

  /**
   * The `{ condition, description }` shape rhea sends in detach, reject and end frames; the
   * namespace is the host name the client connected to (its AMQP open frame).
   */
  toAmqpError(namespace?: string): { condition: string; description: string } {
    return { condition: this.condition, description: this.wireMessage(namespace) };
  }

  /**
   * The text a client sees. An unknown entity is worded as Azure words it (code in the wild
   * matches on it); the emulator's hint stays in `message`, for the log.
   */
  wireMessage(namespace = 'localhost'): string {
    const now = new Date().toISOString().slice(0, 19);
    if (this.trackedPath !== undefined) return `${this.message} TrackingId:${randomUUID()}, SystemTracker:${namespace}:${this.trackedPath}, Timestamp:${now}`;
    if (this.entityPath === undefined) return this.message;
    return (
      `The messaging entity 'sb://${namespace}/${this.entityPath}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.  ` +
      `TrackingId:${randomUUID()}, SystemTracker:${namespace}:${this.entityPath}, Timestamp:${now}`
    );
  }
}

export function isEmulatorError(e: unknown): e is EmulatorError {
  return e instanceof EmulatorError;
}

/** Normalises anything thrown into an `EmulatorError` (unknown errors become `InternalError`). */
export function toEmulatorError(e: unknown): EmulatorError {
  if (e instanceof EmulatorError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new EmulatorError('InternalError', `The emulator failed unexpectedly: ${message}`);
}

// ---- factory -------------------------------------------------------------------------------

/**
 * An unknown entity. `message` (the library's and the log's text) carries a hint; clients get
 * Azure's wording from `wireMessage`, with the namespace they connected to.
 */
export function entityNotFound(path: string, hint = 'Create it first (config file, ARM endpoint) or start the emulator with --auto-create.'): EmulatorError {
  const error = new EmulatorError('MessagingEntityNotFound', `The messaging entity '${path}' could not be found. ${hint}`);
  error.entityPath = path.replace(/^\/+|\/+$/g, '');
  return error;
}

export function entityAlreadyExists(path: string): EmulatorError {
  return new EmulatorError('MessagingEntityAlreadyExists', `The messaging entity '${path}' already exists.`);
}

export function invalidProperty(field: string, reason: string): EmulatorError {
  return new EmulatorError('InvalidEntityProperties', `Invalid value for '${field}': ${reason}`);
}

export function lockLost(lockToken: string): EmulatorError {
  return new EmulatorError(
    'MessageLockLost',
    `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue (lock token ${lockToken}).`,
  );
}

export function messageNotFound(detail: string): EmulatorError {
  return new EmulatorError('MessageNotFound', detail);
}

export function messageTooLarge(size: number, limit: number, path: string): EmulatorError {
  return new EmulatorError(
    'MessageSizeExceeded',
    `The received message (size ${size} bytes) exceeds the limit (${limit} bytes) of '${path}'. Send smaller messages or raise maxMessageSizeInBytes.`,
  );
}

export function sessionCannotBeLocked(sessionId: string, path: string): EmulatorError {
  return new EmulatorError(
    'SessionCannotBeLocked',
    `The requested session '${sessionId}' of '${path}' cannot be accepted. It is locked by another receiver: wait until it is closed or its lock expires.`,
  );
}

export function sessionLockLost(sessionId: string, path: string): EmulatorError {
  return new EmulatorError(
    'SessionLockLost',
    `The session lock of session '${sessionId}' of '${path}' has expired or the session was released. Accept the session again.`,
  );
}

/** Azure's wording (InvalidOperationException), so that people searching for it find the cause. */
export function invalidOperation(reason: string): EmulatorError {
  return new EmulatorError('InvalidOperation', reason);
}

export function operationTimeout(reason: string): EmulatorError {
  return new EmulatorError('OperationTimeout', reason);
}

export function unauthorized(reason: string): EmulatorError {
  return new EmulatorError('Unauthorized', `Unauthorized access: ${reason}`);
}

/** A token Service Bus does not accept, in its wording: `<Code>: <why>` (e.g. `ExpiredToken: …`). */
export function tokenRefused(code: string, why: string): EmulatorError {
  return new EmulatorError('Unauthorized', `${code}: ${why}`);
}

/**
 * A valid token without the right an operation needs, in Azure's wording (code in the wild
 * matches on it), with its tracking suffix on the wire.
 */
export function claimRequired(right: string, resource: string): EmulatorError {
  const error = new EmulatorError('Unauthorized', `Unauthorized access. '${right}' claim(s) are required to perform this operation. Resource: '${resource}'.`);
  error.trackedPath = resource.replace(/^sb:\/\/[^/]*\/?/, '');
  return error;
}

export function invalidRequest(reason: string): EmulatorError {
  return new EmulatorError('InvalidRequest', reason);
}

export function notImplemented(what: string): EmulatorError {
  return new EmulatorError('NotImplemented', `${what} is not implemented by the emulator (see local/servicebus/README.md).`);
}

export function invalidConfiguration(message: string): EmulatorError {
  return new EmulatorError('InvalidConfiguration', message);
}

export function serviceUnavailable(reason: string): EmulatorError {
  return new EmulatorError('ServiceUnavailable', reason);
}
