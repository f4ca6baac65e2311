// The per-node command (control plane → the topic's session-enabled commands queue → one
// agent), as docs/DESIGN.md "Per-node commands" defines it. A command is a control message
// addressed by `sessionId` = node id, which may also be `resume`. Pure: no I/O, no Azure imports.

import {
  type ControlMessage,
  EXPIRY_MARGIN_MS,
  INVALID_CONTROL_MESSAGE,
  parseMessageFields,
} from './control-message.js';
import { drainMessageId } from './drain-id.js';
import { type ParseResult, fail, ok } from './result.js';

/** Operations a command may carry; `resume` is valid on the commands queue only. */
export const COMMAND_OPERATIONS = ['graceful-downscale', 'do-not-accept-new-tasks', 'resume'] as const;
export type CommandOperation = (typeof COMMAND_OPERATIONS)[number];

/** Service Bus's session id limit: a node id longer than this cannot be addressed. */
export const MAX_NODE_ID_LENGTH = 128;
/** What every commands queue name ends with; a topic name may not (it would collide). */
export const COMMANDS_QUEUE_SUFFIX = '-commands';

export interface CommandMessage extends Omit<ControlMessage, 'operation'> {
  operation: CommandOperation;
  /** The addressed node; equal (case-insensitively) to the message's `sessionId`. */
  nodeId: string;
}

/** The session-enabled queue that carries a topic's per-node commands (case kept). */
export function commandsQueueName(topic: string): string {
  return `${topic}${COMMANDS_QUEUE_SUFFIX}`;
}

export function isCommandOperation(value: unknown): value is CommandOperation {
  return typeof value === 'string' && (COMMAND_OPERATIONS as readonly string[]).includes(value);
}

// C0, DEL and C1: a session id is echoed in logs, reports and the dashboard.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** A node id a command can address: 1-128 characters, none of them a control character. */
export function isCommandTarget(nodeId: unknown): nodeId is string {
  return typeof nodeId === 'string' && nodeId.length >= 1 && nodeId.length <= MAX_NODE_ID_LENGTH && !CONTROL_CHARACTER.test(nodeId);
}

/** The rule in words, for error messages. */
export const COMMAND_TARGET_RULE = `1-${MAX_NODE_ID_LENGTH} characters without control characters`;

/** Whether two node ids name the same node: Service Bus compares session ids case-insensitively. */
export function isSameNode(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Validates a command body: the control message's rules (DESIGN "Control message"), the command
 * operations, and a required `nodeId`. The error names the field at fault. Whether `nodeId` is
 * this node is the receiver's check (`isSameNode`).
 */
export function parseCommandMessage(body: unknown): ParseResult<CommandMessage> {
  const parsed = parseMessageFields(body, COMMAND_OPERATIONS);
  if (!parsed.ok) return parsed;
  const { message, fields } = parsed.value;
  const nodeId = fields['nodeId'];
  if (nodeId === undefined || nodeId === null) {
    return fail(INVALID_CONTROL_MESSAGE, 'nodeId', 'nodeId is required on a command');
  }
  if (!isCommandTarget(nodeId)) {
    const shown = typeof nodeId === 'string' ? JSON.stringify(nodeId.slice(0, 40)) : typeof nodeId;
    return fail(INVALID_CONTROL_MESSAGE, 'nodeId', `nodeId ${shown} must be ${COMMAND_TARGET_RULE}`);
  }
  return ok({ ...message, nodeId });
}

/** The Service Bus properties of a command (DESIGN "Per-node commands"). */
export interface CommandEnvelope {
  body: CommandMessage;
  /** The node id: the agent holding this session is the only one that receives it. */
  sessionId: string;
  messageId: string;
  subject: CommandOperation;
  contentType: 'application/json';
  timeToLive: number;
}

/**
 * Builds the command for the `n`th node (from 1) of a drain's `nodes` list. Pure: `now` is passed
 * in. Like a control message it always carries `notAfter` and outlives it by EXPIRY_MARGIN_MS.
 */
export function commandEnvelope(message: CommandMessage & { drainId: string; notAfter: string }, n: number, now: Date): CommandEnvelope {
  return {
    body: message,
    sessionId: message.nodeId,
    messageId: drainMessageId(message.drainId, n),
    subject: message.operation,
    contentType: 'application/json',
    timeToLive: Math.max(1, Date.parse(message.notAfter) - now.getTime()) + EXPIRY_MARGIN_MS,
  };
}
