// The fleet view: one card per topic with its nodes by state (GET /api/topics) and, when opened,
// its node table (GET /api/topics/{topic}/nodes), a page at a time, filtered by a state.
// Node ids, host names, worker ids and versions come from agents' reports: untrusted, shown as
// text only (dom.js h()).

import { h } from './dom.js';
import { ACTIONS, actionsFor } from './node-action.js';

const PAGE_SIZE = 50;
/** A topic with at most this many nodes opens its table by itself (until the operator toggles it). */
const AUTO_OPEN = 20;
const STATES = ['active', 'intake-stopped', 'draining', 'drained', 'stale', 'offline'];

/** Per topic: open or not (undefined: not decided yet), state filter, page tokens, the page shown. */
const views = new Map();

function viewOf(name) {
  if (!views.has(name)) views.set(name, { open: undefined, filter: '', tokens: [''], page: 0, nodes: undefined, next: undefined, error: '' });
  return views.get(name);
}

/** Decided once the topic has nodes, then kept: a table does not close because the fleet grew. */
function isOpen(t, v) {
  if (v.open === undefined && t.nodes?.total > 0) v.open = t.nodes.total <= AUTO_OPEN;
  return v.open === true;
}

/** Reads the shown page of every open topic's nodes. A refused key is the page's business (rethrown). */
export async function refreshNodes(api, topics) {
  await Promise.all(topics.map(async (t) => {
    const v = viewOf(t.name);
    if (!isOpen(t, v) || t.nodes === undefined) return;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (v.filter) query.set('state', v.filter);
    if (v.tokens[v.page]) query.set('continuationToken', v.tokens[v.page]);
    try {
      const page = await api(`topics/${encodeURIComponent(t.name)}/nodes?${query}`);
      v.nodes = page.nodes;
      v.next = page.continuationToken;
      v.error = '';
    } catch (err) {
      if (err.auth) throw err;
      v.error = err.message;
    }
  }));
}

function nodeState(n) {
  if (n.presence === 'offline') return h('span', { class: 'state offline', title: `stopped cleanly; last state ${n.state}` }, 'offline');
  if (n.stale) return [h('span', { class: 'state stale', title: 'no heartbeat for three intervals' }, 'stale'), h('span', { class: 'muted' }, `was ${n.state}`)];
  return h('span', { class: `state ${n.state}` }, n.state);
}

function workersCell(n) {
  const listed = n.workers || [];
  const total = Math.max(n.workerCount ?? listed.length, listed.length);
  if (total === 0) return h('span', { class: 'muted' }, 'none');
  const alive = listed.filter((w) => w.alive !== false).length;
  return [
    h('span', { class: 'muted' }, `${alive}/${total} alive `),
    listed.slice(0, 5).map((w) => h('span', { class: `worker${w.alive === false ? ' gone' : ''}` }, `${w.workerId} (pid ${w.pid})`)),
    total > 5 ? h('span', { class: 'muted' }, `+${total - 5} more`) : null,
  ];
}

/** The node's action buttons; each opens the confirmation dialog (node-action.js). */
function actionsCell(n, act) {
  return actionsFor(n.state).map((a) => h('button', { type: 'button', class: `action ${a}`, 'data-action': a, onclick: () => act(n.nodeId, a) }, ACTIONS[a].label));
}

function nodeRow(n, act) {
  const gone = n.presence === 'offline';
  return h('tr', { 'data-node': n.nodeId, 'data-state': n.state, class: n.stale && !gone ? 'stale' : gone ? 'offline' : undefined },
    h('td', { 'data-label': 'node' }, n.nodeId),
    h('td', { 'data-label': 'state' }, nodeState(n)),
    h('td', { 'data-label': 'for' }, n.since ? h('span', { 'data-since': n.since }) : '—'),
    h('td', { 'data-label': 'last seen' }, n.lastSeen ? h('span', { 'data-ago': n.lastSeen, title: n.lastSeen }) : '—'),
    h('td', { 'data-label': 'drain' }, n.drain?.drainId ? h('code', {}, n.drain.drainId) : '—'),
    h('td', { 'data-label': 'workers' }, workersCell(n)),
    h('td', { 'data-label': 'agent' }, h('span', { class: 'muted' }, n.agentVersion || '—')),
    h('td', { 'data-label': 'host' }, n.hostName || '—'),
    h('td', { 'data-label': 'actions', class: 'actions' }, actionsCell(n, act)));
}

function nodeTable(t, v, changed, act) {
  if (v.error) return h('p', { class: 'error' }, `nodes: ${v.error}`);
  if (v.nodes === undefined) return h('p', { class: 'muted' }, 'loading nodes…');
  const first = v.page * PAGE_SIZE;
  const go = (page) => () => {
    if (page > v.page) v.tokens[page] = v.next;
    v.page = page;
    changed();
  };
  return [
    v.nodes.length === 0 ? h('p', { class: 'muted' }, v.filter ? `No ${v.filter} node.` : 'No node.') : h('table', { class: 'nodes fleet' },
      h('thead', {}, h('tr', {}, ['node', 'state', 'for', 'last seen', 'drain', 'workers', 'agent', 'host', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, v.nodes.map((n) => nodeRow(n, (nodeId, action) => act(t.name, nodeId, action))))),
    v.page > 0 || v.next ? h('p', { class: 'pager' },
      h('button', { type: 'button', class: 'prev', disabled: v.page === 0, onclick: go(v.page - 1) }, '‹ previous'),
      h('span', { class: 'muted' }, ` nodes ${first + 1}–${first + v.nodes.length} `),
      h('button', { type: 'button', class: 'next', disabled: !v.next, onclick: go(v.page + 1) }, 'next ›')) : null,
  ];
}

function stateCounts(t, v, changed) {
  const filter = (s) => () => {
    v.filter = v.filter === s ? '' : s;
    v.tokens = [''];
    v.page = 0;
    v.nodes = undefined;
    v.open = true;
    changed();
  };
  return h('div', { class: 'states' }, STATES.map((s) =>
    h('button', { type: 'button', class: `count ${s}${v.filter === s ? ' selected' : ''}${t.nodes[s] ? '' : ' zero'}`, 'data-count': s, 'aria-pressed': String(v.filter === s), onclick: filter(s) },
      h('strong', {}, t.nodes[s] ?? 0), ` ${s}`)),
  h('span', { class: 'muted total' }, `${t.nodes.total} in all`));
}

/** The topic's safety budget (GET /api/topics: `policy`, `budget`): unavailable nodes of how many it allows. */
function budgetNote(t) {
  if (!t.policy) return t.nodes ? h('p', { class: 'budget none muted', 'data-budget': 'none' }, 'no safety budget') : null;
  const b = t.budget || {};
  const full = typeof b.allowed === 'number' && typeof b.unavailable === 'number' && b.unavailable >= b.allowed;
  const title = `at most ${t.policy.maxUnavailable} unavailable at once${typeof b.online === 'number' ? `; ${b.online} online` : ''}${b.inFlight ? `; ${b.inFlight} in flight` : ''}${b.reserved ? `; ${b.reserved} reserved by drains starting` : ''}`;
  return h('p', { class: `budget${full ? ' full' : ''}`, 'data-budget': String(t.policy.maxUnavailable), title },
    'budget: ', h('strong', { 'data-figure': 'unavailable' }, b.unavailable ?? '?'), ' of ', h('strong', { 'data-figure': 'allowed' }, b.allowed ?? '?'),
    ` unavailable (max ${t.policy.maxUnavailable})`);
}

/** The newest scheduled run the budget skipped (GET /api/topics `skippedRuns`): a drain that did not happen, and why. */
function skippedNote(t) {
  const run = t.skippedRuns?.[0];
  if (!run) return null;
  return h('p', { class: 'skipped', 'data-skipped': run.schedule, title: run.why || '' },
    `Scheduled run ${run.schedule} skipped by the budget at `, h('time', { datetime: run.at }, run.at),
    `: online ${run.online ?? '?'}, unavailable ${run.unavailable ?? '?'}, requested ${run.requested ?? '?'}, allowed ${run.allowed ?? '?'}`,
    t.skippedRuns.length > 1 ? h('span', { class: 'muted' }, ` (${t.skippedRuns.length} skipped runs listed)`) : null);
}

/**
 * The topic cards. `topics`: GET /api/topics (with `nodes` when the app has an inventory);
 * `notes`: per topic (lower-cased), what its drains say ("1 draining", "last drain completed");
 * `changed`: called after a click that needs the nodes read again; `act(topic, nodeId, action)`:
 * a node's action button was clicked.
 */
export function fleetView(topics, notes, changed, act) {
  if (topics.length === 0) return [h('p', { class: 'muted' }, 'No topics yet: workforce topic ensure <topic>')];
  return topics.map((t) => {
    const v = viewOf(t.name);
    const open = isOpen(t, v);
    const note = notes.get(t.name.toLowerCase()) || { text: 'no drain yet' };
    const toggle = () => {
      v.open = !open;
      changed();
    };
    return h('article', { class: `card topic${note.busy ? ' busy' : ''}${open ? ' open' : ''}`, 'data-topic': t.name },
      h('div', { class: 'card-head' },
        t.nodes ? h('button', { type: 'button', class: 'toggle', 'aria-expanded': String(open), onclick: toggle }, h('h3', {}, t.name)) : h('h3', {}, t.name),
        h('span', { class: `drain-note${note.escalated ? ' escalated' : ''}` }, note.text)),
      budgetNote(t),
      skippedNote(t),
      t.nodes ? stateCounts(t, v, changed) : h('p', { class: 'muted' }, 'No fleet inventory: nodes show once the app stores presence reports.'),
      t.nodes && open ? nodeTable(t, v, changed, act) : null);
  });
}
