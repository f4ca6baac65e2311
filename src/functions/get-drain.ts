// GET /api/drains/{id}: per-node progress, who asked and why, and how it ended.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { findDrain } from '../adapters/durable.js';
import { validateDrainId } from '../domain/drain-request.js';
import { drainNotFound } from '../domain/problem.js';
import { config } from '../config.js';
import { withHint, type TopicCountsReader } from '../http/drain-hint.js';
import { drainView, needsInput } from '../http/drain-view.js';
import { topicCountsReader } from '../http/topic-counts.js';
import { problemResponse, unexpected } from '../http/problem-response.js';

export async function getDrain(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = validateDrainId(request.params.id ?? '');
  if (!id.ok) return problemResponse(id.problem);
  try {
    const client = df.getClient(context);
    let status = await findDrain(client, id.value);
    if (!status) return problemResponse(drainNotFound(id.value));
    // A drain not yet started by its orchestration (Pending) shows who asked, for what and why from its input.
    if (needsInput(status)) status = (await findDrain(client, id.value, { showInput: true })) ?? status;
    const view = await withHint(drainView(status, { full: true }), countsReader(context), new Date(), (m) => context.warn(m));
    return { status: 200, jsonBody: view };
  } catch (err) {
    return unexpected(err, context, `reading drain ${id.value}`);
  }
}

/** The fleet inventory's counts when the app keeps one; a bad storage setting costs the hint only. */
function countsReader(context: InvocationContext): TopicCountsReader | undefined {
  try {
    const { inventory } = config();
    return inventory && topicCountsReader(inventory);
  } catch (err) {
    context.warn(`no drain hint: ${(err as Error).message}`);
    return undefined;
  }
}

app.http('getDrain', {
  route: 'drains/{id}',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getDrain,
});
