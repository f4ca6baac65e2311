// The fields of a message that correlation filters match, decoded by rhea from its properties
// and application properties (a section rhea cannot decode fails the send of a topic message).
import type { FilterView } from '../broker/message.js';
import { asString } from './guid.js';
import { decodeSection, type Section } from './sections.js';

export function decodeFilterView(raw: Buffer, messageId: string, props: Section | undefined, app: Section | undefined): FilterView {
  const p = props ? decodeSection(raw, props) : {};
  const a = app ? decodeSection(raw, app) : {};
  return {
    messageId,
    correlationId: asString(p.correlation_id),
    to: asString(p.to),
    replyTo: asString(p.reply_to),
    subject: asString(p.subject),
    sessionId: asString(p.group_id),
    replyToSessionId: asString(p.reply_to_group_id),
    contentType: asString(p.content_type),
    applicationProperties: (a.application_properties as Record<string, unknown> | undefined) ?? {},
  };
}
