// The live drain dashboard: polls the app's API (GET /api/drains, the topics and the open
// topics' nodes) every 2 s and redraws; counts down deadlines and time in state every second.
// Plain ES modules, no build step.

import { duration, h, tick } from './dom.js';
import { fleetView, refreshNodes } from './fleet.js';
import { confirmAction } from './node-action.js';

const API = location.pathname.replace(/\/dashboard(\/.*)?$/, '');
const POLL_MS = 2000;
const KEY_STORE = 'workforce.functionKey';
const TARGET = { 'graceful-downscale': 'drained', 'do-not-accept-new-tasks': 'intake-stopped', resume: 'resumed' };

const $ = (id) => document.getElementById(id);
const TOPICS_EVERY = 3; // polls between two reads of GET /api/topics (it goes through ARM and counts every node)

/**
 * The function key: kept for this tab only (sessionStorage, gone when the tab closes), and a key
 * that came in the address (`?code=`, as Azure links to functions) is taken out of the address at
 * once, so it stays out of the history, bookmarks, screenshots and Referer headers.
 */
function initialKey() {
  localStorage.removeItem(KEY_STORE); // where earlier versions kept it, for good
  const url = new URL(location.href);
  const code = url.searchParams.get('code');
  if (code !== null) {
    url.searchParams.delete('code');
    history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
    if (code) sessionStorage.setItem(KEY_STORE, code);
  }
  return code || sessionStorage.getItem(KEY_STORE) || '';
}

const state = { key: initialKey(), drains: [], topics: [], polls: 0, details: new Map(), open: new Set() };

/** A request the API has not answered in this long is given up (the next poll, or the user, sends it again). */
const REQUEST_TIMEOUT_MS = 30_000;

/** fetch with REQUEST_TIMEOUT_MS; a timeout says so in words. */
async function request(url, init) {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw err?.name === 'TimeoutError' ? new Error(`the API did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`) : err;
  }
}

async function api(route) {
  const res = await request(`${API}/${route}`, { headers: { 'x-functions-key': state.key, accept: 'application/json' } });
  if (res.status === 401 || res.status === 403) throw Object.assign(new Error('the function key was refused'), { auth: true });
  if (!res.ok) throw new Error(`${route}: HTTP ${res.status}`);
  return res.json();
}

/** A POST whose refusals the caller shows (a 409 BudgetExceeded carries its figures): { status, body }. */
async function post(route, body) {
  const res = await request(`${API}/${route}`, { method: 'POST', headers: { 'x-functions-key': state.key, accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status === 401 || res.status === 403) throw new Error('the function key was refused');
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { detail: `HTTP ${res.status}: ${text.slice(0, 200)}` };
  }
  return { status: res.status, body: parsed };
}

/** A node's action button: the confirmation dialog; once the API took it, read everything again. */
function act(topic, nodeId, action) {
  confirmAction({ topic, nodeId, action, post, done: () => poll({ once: true }) });
}

/** Completed with workers SIGKILLed at the deadline: their tasks may be lost, so not shown as plain success. */
const escalated = (d) => d.status === 'completed' && (d.counts?.escalated || 0) > 0;

function badge(d) {
  if (escalated(d)) return h('span', { class: 'badge escalated', title: d.outcome || '' }, 'completed, escalated');
  return h('span', { class: `badge ${d.status}` }, d.status);
}

function countsBar(d) {
  const c = d.counts || {};
  const requested = c.requested || 0;
  const pct = (n) => (requested ? Math.min(100, (100 * n) / requested) : 0);
  const mid = d.mode === 'do-not-accept-new-tasks' ? 0 : c.draining || 0;
  return h('div', { class: 'bar', role: 'img', 'aria-label': `${c.done || 0} of ${requested} done` },
    h('span', { class: 'done', style: { width: `${pct(c.done || 0)}%` } }),
    h('span', { class: 'draining', style: { width: `${pct(mid)}%` } }),
    h('span', { class: 'accepted', style: { width: `${pct(Math.max(0, (c.accepted || 0) - mid - (c.done || 0)))}%` } }));
}

function countsLine(d) {
  const c = d.counts || {};
  const target = TARGET[d.mode] || 'done';
  const items = [[`${c.done || 0}/${c.requested ?? '?'}`, target], [c.accepted || 0, 'accepted']];
  if (d.mode !== 'do-not-accept-new-tasks' && d.mode !== 'resume') items.push([c.draining || 0, 'draining']);
  for (const k of ['escalated', 'expired', 'rejected', 'refused']) if (c[k]) items.push([c[k], k]);
  if (c.killed) items.push([c.killed, 'SIGKILLed']);
  if (c.untaken && d.status === 'running') items.push([c.untaken, 'untaken']);
  return h('dl', { class: 'counts' }, items.map(([n, label]) => h('div', {}, h('dt', {}, label), h('dd', { 'data-count': label }, n))));
}

function workersOf(node) {
  if (!node.workers) return h('span', { class: 'muted' }, '—');
  const running = node.workers.filter((w) => !w.exited);
  if (running.length === 0) return h('span', { class: 'muted' }, node.workers.length ? 'all exited' : 'none');
  return running.map((w) => h('span', { class: 'worker' }, `${w.workerId ?? 'worker'} (pid ${w.pid})`));
}

function nodesTable(d, nodes) {
  if (nodes.length === 0) return h('p', { class: 'muted' }, d.status === 'running' ? 'No node has taken this drain yet.' : 'No node took this drain.');
  // Running drains' status has no workers (the API lists them once the drain ended).
  const withWorkers = nodes.some((n) => n.workers);
  return h('table', { class: 'nodes' },
    h('thead', {}, h('tr', {}, h('th', {}, 'node'), h('th', {}, 'state'), h('th', {}, 'in state for'), withWorkers ? h('th', {}, 'workers still running') : null)),
    h('tbody', {}, nodes.map((n) => h('tr', { 'data-node': n.nodeId, 'data-state': n.state },
      h('td', { 'data-label': 'node' }, n.nodeId),
      h('td', { 'data-label': 'state' }, h('span', { class: `state ${n.state}` }, n.state), n.escalated ? h('span', { class: 'state escalated' }, 'escalated') : null),
      h('td', { 'data-label': 'for' }, d.status === 'running' ? h('span', { 'data-since': n.since }) : duration(Date.parse(d.finishedAt || d.updatedAt || n.since) - Date.parse(n.since))),
      withWorkers ? h('td', { 'data-label': 'workers' }, workersOf(n)) : null))));
}

function meta(d) {
  return h('p', { class: 'meta' },
    h('span', {}, d.mode),
    // A targeted drain or resume names its nodes (at most 60 listed).
    d.targets ? h('span', { class: 'targets' }, `nodes ${d.targets.join(', ')}${d.targetsOmitted ? ` and ${d.targetsOmitted} more` : ''}`) : null,
    d.forced ? h('span', { class: 'forced', title: 'the safety budget or the inventory check was overridden' }, `forced${d.forcedBy ? ` by ${d.forcedBy}` : ''}`) : null,
    d.reason ? h('span', {}, `“${d.reason}”`) : null,
    d.requestedBy ? h('span', {}, `by ${d.requestedBy}`, d.requestedFor ? h('span', { class: 'muted', title: 'as the caller said' }, ` for ${d.requestedFor}`) : null) : null,
    d.status === 'running' && d.deadline ? h('span', { class: 'deadline' }, 'deadline ', h('strong', { 'data-until': d.deadline })) : null,
    d.status === 'running' && !d.deadline && d.notAfter ? h('span', {}, 'takers until ', h('strong', { 'data-until': d.notAfter })) : null,
    d.status === 'running' && d.untakenExpireAt ? h('span', { class: 'untaken' }, `${d.counts?.untaken} untaken, expire `, h('strong', { 'data-until': d.untakenExpireAt })) : null,
    d.status !== 'running' && d.finishedAt ? h('span', {}, 'ended ', h('span', { 'data-until': d.finishedAt })) : null);
}

function runningCard(d) {
  return h('article', { class: 'card', 'data-drain': d.drainId, 'data-status': d.status },
    h('div', { class: 'card-head' }, h('h3', {}, d.topic, ' ', h('code', {}, d.drainId)), badge(d)),
    meta(d), countsBar(d), countsLine(d),
    // Why it waits (untaken messages, what the topic's nodes are), from the fleet inventory.
    d.hint ? h('p', { class: 'hint' }, d.hint) : null,
    d.status === 'running' && d.unreachable?.length ? h('p', { class: 'hint unreachable' }, `not reachable when sent (each command waits until it expires): ${d.unreachable.map((u) => `${u.nodeId} (${u.why})`).join(', ')}`) : null,
    nodesTable(d, d.nodes || []),
    d.nodesOmitted ? h('p', { class: 'muted' }, `and ${d.nodesOmitted} more nodes`) : null,
    (d.anomalies || []).map((a) => h('p', { class: 'error' }, a)));
}

/** Mode, when it ended and why it was asked for, shown before a recent drain is opened. */
function recentMeta(d) {
  const at = d.finishedAt || d.lastUpdatedTime || d.createdTime;
  return h('p', { class: 'meta recent-meta' },
    h('span', { class: 'mode' }, d.mode || '?'),
    at ? h('span', { class: 'when' }, 'ended ', h('time', { datetime: at, title: at }, new Date(at).toLocaleString()), ' (', h('span', { 'data-ago': at }), ')') : null,
    d.reason ? h('span', { class: 'reason' }, `“${d.reason}”`) : null);
}

function recentRow(d) {
  const open = state.open.has(d.drainId);
  const detail = state.details.get(d.drainId);
  const nodes = detail?.progress ? Object.values(detail.progress.nodes) : d.nodes || [];
  return h('article', { class: `card compact${open ? ' open' : ''}`, 'data-drain': d.drainId, 'data-status': d.status },
    h('button', { class: 'card-head', type: 'button', 'aria-expanded': String(open), onclick: () => toggle(d.drainId) },
      h('h3', {}, d.topic, ' ', h('code', {}, d.drainId)), badge(d)),
    recentMeta(d),
    h('p', { class: 'outcome' }, d.outcome || d.failure || ''),
    open ? [meta(d), countsLine(d), nodesTable(d, nodes)] : null);
}

async function toggle(id) {
  if (state.open.has(id)) state.open.delete(id);
  else {
    state.open.add(id);
    if (!state.details.has(id)) state.details.set(id, await api(`drains/${encodeURIComponent(id)}`).catch(() => undefined));
  }
  render();
}

/** Per topic, what its drains say: "2 draining", "last drain completed", "no drain yet". */
function drainNotes(drains) {
  const notes = new Map();
  for (const d of drains) {
    const n = notes.get(d.topic.toLowerCase()) || { running: 0, last: undefined };
    n.last ??= d; // drains come newest first
    if (d.status === 'running') n.running++;
    notes.set(d.topic.toLowerCase(), n); // entity names ignore case
  }
  for (const n of notes.values()) {
    n.busy = n.running > 0;
    n.escalated = !n.busy && escalated(n.last);
    n.text = n.running ? `${n.running} draining` : `last drain ${escalated(n.last) ? 'completed, escalated' : n.last.status}`;
  }
  return notes;
}

/** Every topic GET /api/topics lists, plus any a drain names (the list is unavailable without ARM). */
function allTopics(drains) {
  const topics = new Map(state.topics.map((t) => [t.name.toLowerCase(), t])); // entity names ignore case
  for (const d of drains) if (!topics.has(d.topic.toLowerCase())) topics.set(d.topic.toLowerCase(), { name: d.topic });
  return [...topics.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** A click in the fleet view: read the open topics' nodes again, then redraw. */
function fleetChanged() {
  render();
  refreshNodes(api, allTopics(state.drains)).then(render, () => {});
}

function render() {
  const running = state.drains.filter((d) => d.status === 'running');
  const recent = state.drains.filter((d) => d.status !== 'running').slice(0, 20);
  $('topics').replaceChildren(...fleetView(allTopics(state.drains), drainNotes(state.drains), fleetChanged, act));
  $('running').replaceChildren(...(running.length ? running.map(runningCard) : [h('p', { class: 'muted' }, 'Nothing is draining.')]));
  $('recent').replaceChildren(...(recent.length ? recent.map(recentRow) : [h('p', { class: 'muted' }, 'No drain has ended yet.')]));
  tick();
}

function connection(text, kind) {
  const el = $('connection');
  el.textContent = text;
  el.dataset.state = kind;
}

/** A running drain's status (its nodes) with each node's workers (GET /api/drains/{id}/workers). */
async function withWorkers(d) {
  const id = encodeURIComponent(d.drainId);
  const [status, workers] = await Promise.all([api(`drains/${id}`).catch(() => d), api(`drains/${id}/workers`).catch(() => undefined)]);
  const byNode = new Map((workers?.nodes ?? []).map((n) => [n.nodeId, n.workers]));
  for (const n of status.nodes ?? []) if (byNode.has(n.nodeId)) n.workers = byNode.get(n.nodeId);
  return status;
}

/** Reads everything and redraws; then again in POLL_MS, unless `once` (a read out of turn, after an action). */
async function poll({ once = false } = {}) {
  try {
    if (state.polls++ % TOPICS_EVERY === 0 || once) {
      // Optional: 503 when the app has no provisioning target; topics then come from drains.
      state.topics = await api('topics').then((r) => r.topics, (err) => (err.auth ? Promise.reject(err) : state.topics));
    }
    const { drains } = await api('drains');
    // The list is compact; each running drain's own status has its nodes.
    state.drains = await Promise.all(drains.map((d) => (d.status === 'running' ? withWorkers(d) : d)));
    await refreshNodes(api, allTopics(state.drains));
    // Details of an opened drain are refreshed while it runs.
    for (const id of state.open) if (drains.find((d) => d.drainId === id)?.status === 'running') state.details.delete(id);
    $('key-form').hidden = true;
    $('content').hidden = false;
    connection('live', 'live');
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    render();
  } catch (err) {
    if (err.auth) {
      sessionStorage.removeItem(KEY_STORE);
      $('key-form').hidden = false;
      $('key-error').textContent = state.key ? 'That key was refused.' : '';
      connection('needs key', 'error');
      return; // wait for the form
    }
    connection(`offline: ${err.message}`, 'error');
  }
  if (!once) setTimeout(poll, POLL_MS);
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.key = $('key').value.trim();
  state.polls = 0;
  sessionStorage.setItem(KEY_STORE, state.key);
  poll();
});
setInterval(tick, 1000);
poll();
