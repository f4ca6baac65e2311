// GET /api/drains?topic=&status=: drains (newest first), filtered by topic and drain status.

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { listDrains } from '../adapters/durable.js';
import type { DrainStatus } from '../domain/drain-progress.js';
import { drainView } from '../http/drain-view.js';
import { problem, problemResponse, unexpected } from '../http/problem-response.js';

const STATUSES: readonly DrainStatus[] = ['running', 'completed', 'timed-out', 'cancelled', 'failed'];
// Narrow the durable query by runtime status; the drain status is read from the result.
const RUNTIME: Record<DrainStatus, string[]> = {
  running: ['Running', 'Pending', 'ContinuedAsNew', 'Suspended'],
  completed: ['Completed'],
  'timed-out': ['Completed'],
  cancelled: ['Completed'],
  failed: ['Failed', 'Terminated'],
};

export async function getDrains(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const topic = request.query.get('topic') ?? undefined;
  const status = request.query.get('status') ?? undefined;
  if (status !== undefined && !STATUSES.includes(status as DrainStatus)) {
    return problemResponse(problem('InvalidField', 400, 'Invalid request', `status must be one of ${STATUSES.join(', ')}`, 'status'));
  }
  try {
    const found = await listDrains(df.getClient(context), status ? RUNTIME[status as DrainStatus] : undefined);
    const drains = found
      .map((s) => drainView(s, { full: false }))
      .filter((d) => (topic === undefined || d.topic === topic) && (status === undefined || d.status === status))
      .sort((a, b) => (b.createdTime ?? '').localeCompare(a.createdTime ?? ''));
    return { status: 200, jsonBody: { drains } };
  } catch (err) {
    return unexpected(err, context, 'listing drains');
  }
}

app.http('listDrains', {
  route: 'drains',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getDrains,
});
