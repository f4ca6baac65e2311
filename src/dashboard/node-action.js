// Per-node actions of the fleet view (drain, stop intake, resume) and their confirmation dialog:
// it names the node, shows the dry run's plan (what would be sent, the safety budget's verdict,
// whether the node is reachable), requires a reason, and only then sends. Node ids come from
// agents' reports: shown as text only (dom.js h()).

import { h } from './dom.js';

/** What each action asks the API for, and the words the dialog uses. */
export const ACTIONS = {
  drain: { label: 'drain', verb: 'Drain', route: 'drains', body: { mode: 'graceful-downscale' }, says: 'its workers finish their current task and exit; the node then takes nothing until it is resumed' },
  'stop-intake': { label: 'stop intake', verb: 'Stop intake on', route: 'drains', body: { mode: 'do-not-accept-new-tasks' }, says: 'its workers stop taking new tasks and keep running; resume undoes it' },
  resume: { label: 'resume', verb: 'Resume', route: 'resume', body: {}, says: 'an intake-stopped node takes tasks again; a drained node whose workers are gone is re-armed' },
};

/** A v4 UUID, as the API would choose; crypto.randomUUID needs a secure context (https, localhost). */
function newDrainId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The actions a node in `state` can take; a stale or offline node keeps its last state's (its command waits). */
export function actionsFor(state) {
  switch (state) {
    case 'active': return ['drain', 'stop-intake'];
    case 'intake-stopped': return ['drain', 'resume'];
    case 'drained': return ['resume'];
    default: return []; // draining: it is busy; nothing to add
  }
}

const num = (v) => (typeof v === 'number' ? String(v) : '?');
const STANDINGS = ['active', 'intake-stopped', 'draining', 'drained', 'stale', 'offline'];

/** The budget's figures (a plan's `budget`, a 409 BudgetExceeded problem). */
function figures(b) {
  const pending = [...(b.inFlight ? [`${num(b.inFlight)} in flight`] : []), ...(b.reserved ? [`${num(b.reserved)} reserved`] : [])];
  return `online ${num(b.online)}, unavailable ${num(b.unavailable)}${pending.length ? ` (${pending.join(', ')})` : ''}, this adds ${num(b.requested)}, allowed ${num(b.allowed)} (max ${b.maxUnavailable ?? '?'})`;
}

/** The dry run's answer, as a definition list: messages, the topic's nodes, the budget, the node's reach. */
function planView(answer, action) {
  const rows = [];
  for (const m of answer.plan?.messages || []) rows.push(['command', `${m.operation || '?'} to ${m.nodeId ?? `${m.count} node(s)`}${m.expiresAt ? `, expires ${m.expiresAt}` : ''}`]);
  if (answer.inventory) rows.push(['nodes now', STANDINGS.filter((s) => answer.inventory[s]).map((s) => `${answer.inventory[s]} ${s}`).join(', ') || 'none']);
  const b = answer.budget;
  rows.push(['budget', action === 'resume' ? 'a resume never counts against it' : !b ? 'none (the topic has no policy)' : `${b.exceeded ? 'exceeded' : 'within'}: ${figures(b)}`]);
  for (const u of answer.unreachable || []) rows.push(['not reachable', `${u.nodeId}${u.why ? `: ${u.why}` : ''} (the command waits until it expires)`]);
  for (const w of answer.warnings || []) rows.push(['warning', w]);
  return h('dl', { class: 'plan' }, rows.map(([k, v]) => h('div', { 'data-plan': k }, h('dt', {}, k), h('dd', {}, v))));
}

/** A refusal in words; a 409 BudgetExceeded with its figures. */
function refusalText(problem) {
  if (problem.code === 'BudgetExceeded') return `The safety budget refuses it: ${figures(problem)}.`;
  return problem.detail || problem.title || `HTTP ${problem.status}`;
}

/**
 * Opens the dialog for `action` on `nodeId` of `topic`. `post(route, body)` answers
 * { status, body }; `done(drainId)` runs after the API accepted.
 */
export function confirmAction({ topic, nodeId, action, post, done }) {
  const a = ACTIONS[action];
  const base = { nodes: [nodeId], ...a.body, requestedBy: 'dashboard' };
  // Chosen once per dialog: confirming again after a lost answer sends the same id, and the API
  // starts at most one drain per id (409 DrainExists to the repeat).
  const drainId = newDrainId();
  let sentBefore = false;
  const route = `topics/${encodeURIComponent(topic)}/${a.route}`;
  const plan = h('div', { class: 'plan-area' }, h('p', { class: 'muted' }, 'Dry run…'));
  const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 1024, placeholder: 'Why (shown to everyone watching)' });
  const force = h('input', { type: 'checkbox', name: 'force' });
  const forceRow = h('label', { class: 'force', hidden: true }, force, ' Override the safety budget (recorded in the drain)');
  const error = h('p', { class: 'error', role: 'alert' });
  const confirm = h('button', { type: 'submit', class: 'confirm', value: 'confirm' }, `${a.verb} ${nodeId}`);
  const cancel = h('button', { type: 'button', class: 'cancel', onclick: () => dialog.close() }, 'Cancel');
  const form = h('form', { method: 'dialog', onsubmit: submit },
    h('h3', {}, `${a.verb} node `, h('code', { class: 'node-id' }, nodeId), ` of ${topic}?`),
    h('p', { class: 'muted' }, `This sends one command to that node only: ${a.says}.`),
    plan,
    h('label', { class: 'reason' }, 'Reason (required)', reason),
    forceRow, error,
    h('div', { class: 'buttons' }, cancel, confirm));
  const dialog = h('dialog', { class: 'node-action', 'data-action': action, 'data-node': nodeId }, form);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  // The dry run first: what would be sent, and whether the budget lets it through.
  post(route, { ...base, dryRun: true }).then(({ status, body }) => {
    if (status === 200) {
      plan.replaceChildren(h('p', { class: 'muted' }, 'Dry run: nothing was sent yet.'), planView(body, action));
      if (body.budget?.exceeded) forceRow.hidden = false;
    } else {
      plan.replaceChildren(h('p', { class: 'error' }, refusalText(body)));
      if (body.code === 'BudgetExceeded') forceRow.hidden = false;
    }
  }, (err) => plan.replaceChildren(h('p', { class: 'error' }, `dry run failed: ${err.message}`)));

  async function submit(e) {
    e.preventDefault();
    if (reason.value.trim() === '') {
      error.textContent = 'A reason is required.';
      reason.focus();
      return;
    }
    error.textContent = '';
    confirm.disabled = true;
    try {
      const again = sentBefore;
      sentBefore = true;
      const { status, body } = await post(route, { ...base, drainId, reason: reason.value.trim(), ...(force.checked && { force: true }) });
      // DrainExists to a repeat: an earlier confirm of this dialog started it, its answer lost.
      if (status === 202 || status === 200 || (again && status === 409 && body.code === 'DrainExists')) {
        dialog.close();
        done(drainId);
        return;
      }
      error.textContent = refusalText(body);
      if (body.code === 'BudgetExceeded') forceRow.hidden = false;
    } catch (err) {
      error.textContent = `${err.message}: it may have been sent; confirm again to make sure (it cannot start twice)`;
    } finally {
      confirm.disabled = false;
    }
  }
  return dialog;
}
