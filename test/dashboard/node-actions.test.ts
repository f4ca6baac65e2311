import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandsArrived, commandsFor } from '../support/agents.js';
import { ROOT, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { launchChromium } from './chromium.js';
import { openDashboard } from './open-dashboard.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/**
 * The fleet view's per-node actions in Chromium against the local system: simulated nodes
 * (presence reports sent as agents send them), a topic policy of at most 2 unavailable nodes.
 * A node's button opens a dialog naming the node with the dry run's plan; it refuses an empty
 * reason; a confirmed drain or resume reaches the API (the drain appears, its one command is in
 * that node's session); a node id made of HTML stays text; the budget shows on the topic's card.
 */
describe('dashboard per-node actions in Chromium', () => {
  const topic = 'dash-cmds';
  const hostile = '<img src=x onerror="window.pwned=1">';
  let cp: ControlPlane;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const errors: string[] = [];
  const drains = async () => (await cp.api('GET', `drains?topic=${topic}`)).body.drains as Array<{ drainId: string; mode: string; status: string }>;
  const row = (nodeId: string) => page.locator(`[data-topic="${topic}"] tr[data-node=${JSON.stringify(nodeId)}]`);
  const dialog = () => page.locator('dialog.node-action[open]');

  beforeAll(async () => {
    [cp, chrome] = await Promise.all([startControlPlane(), launchChromium()]);
    mkdirSync(ARTIFACTS, { recursive: true });
    expect((await cp.api('PUT', `topics/${topic}`)).status).toBe(201);
    expect((await cp.api('PUT', `topics/${topic}/policy`, { maxUnavailable: 2 })).status).toBe(200);
    await sendPresence(cp.sb, [
      presenceReport(topic, 'dash-a', { heartbeatSeconds: 3600 }),
      presenceReport(topic, 'dash-s', { heartbeatSeconds: 3600, nodeState: 'intake-stopped' }),
      presenceReport(topic, hostile, { heartbeatSeconds: 3600 }),
      // Stopped cleanly: neither online nor unavailable, so the budget's figures leave it out.
      presenceReport(topic, 'dash-off', { presence: 'offline' }),
    ]);
    await waitFor(async () => (await cp.api('GET', `topics/${topic}/nodes`)).body.nodes?.length === 4, 'the four nodes in the inventory');
    page = await openDashboard(chrome.browser, cp.host.url, errors);
  }, 120_000);
  afterAll(async () => {
    await chrome?.close();
    await cp?.close();
  });

  it('shows the budget on the topic card, and each node the actions its state allows', async () => {
    // dash-s is intake-stopped: 1 of the 2 allowed.
    const budget = page.locator(`[data-topic="${topic}"] .budget[data-budget="2"]:not(.full)`);
    await budget.waitFor({ timeout: 30_000 });
    expect(await budget.textContent()).toBe('budget: 1 of 2 unavailable (max 2)');
    await row('dash-a').waitFor();
    expect(await row('dash-a').locator('td.actions button').allTextContents()).toEqual(['drain', 'stop intake']);
    expect(await row('dash-s').locator('td.actions button').allTextContents()).toEqual(['drain', 'resume']);
  });

  it('drain: the dialog names the node, shows the dry run, refuses an empty reason; confirmed, the drain reaches the API', async () => {
    await row('dash-a').locator('button[data-action="drain"]').click();
    await dialog().waitFor();
    expect(await dialog().locator('h3').textContent()).toBe(`Drain node dash-a of ${topic}?`);
    const budget = dialog().locator('[data-plan="budget"] dd');
    await budget.waitFor();
    expect(await budget.textContent()).toBe('within: online 3, unavailable 1, this adds 1, allowed 2 (max 2)');
    expect(await dialog().locator('[data-plan="command"] dd').textContent()).toMatch(/^graceful-downscale to dash-a, expires \d{4}-\d\d-\d\dT\S+Z$/);

    // No reason: nothing is sent, and the dialog says why.
    await dialog().locator('button.confirm').click();
    expect(await dialog().locator('.error[role="alert"]').textContent()).toBe('A reason is required.');
    await dialog().locator('textarea[name="reason"]').fill('   ');
    await dialog().locator('button.confirm').click();
    expect(await dialog().locator('.error[role="alert"]').textContent()).toBe('A reason is required.');
    expect(await drains()).toEqual([]);

    await dialog().locator('textarea[name="reason"]').fill('disk failing');
    await dialog().locator('button.confirm').click();
    await dialog().waitFor({ state: 'detached' });
    const [drain] = await waitFor(async () => {
      const list = await drains();
      return list.length === 1 && list;
    }, 'the drain in the API');
    expect(drain).toMatchObject({ mode: 'graceful-downscale', status: 'running' });
    const status = (await cp.api('GET', `drains/${drain!.drainId}`)).body;
    expect(status).toMatchObject({ reason: 'disk failing', requestedBy: 'dashboard', targets: ['dash-a'] });
    const [command, ...more] = await commandsArrived(cp.sb, topic, 'dash-a');
    expect(more).toEqual([]);
    expect(command?.body).toMatchObject({ nodeId: 'dash-a', operation: 'graceful-downscale', reason: 'disk failing' });
    // The drain appears on the page, and its untaken command counts against the budget.
    const card = page.locator(`#running [data-drain="${drain!.drainId}"]`);
    await card.waitFor({ timeout: 30_000 });
    expect(await card.locator('.meta .targets').textContent()).toBe('nodes dash-a');
    await page.locator(`[data-topic="${topic}"] .budget.full`, { hasText: 'budget: 2 of 2 unavailable (max 2)' }).waitFor({ timeout: 30_000 });
    expect(await commandsFor(cp.sb, topic, 'dash-s')).toEqual([]);
  });

  it('resume: a confirmed resume of the intake-stopped node reaches the API as a drain of mode resume', async () => {
    await row('dash-s').locator('button[data-action="resume"]').click();
    await dialog().waitFor();
    expect(await dialog().locator('h3').textContent()).toBe(`Resume node dash-s of ${topic}?`);
    await dialog().locator('[data-plan="budget"] dd', { hasText: 'a resume never counts against it' }).waitFor();
    await dialog().locator('textarea[name="reason"]').fill('patched');
    await dialog().locator('button.confirm').click();
    await dialog().waitFor({ state: 'detached' });
    const [command] = await commandsArrived(cp.sb, topic, 'dash-s');
    expect(command).toMatchObject({ subject: 'resume', body: { nodeId: 'dash-s', operation: 'resume', reason: 'patched' } });
    const resume = (await drains()).find((d) => d.mode === 'resume');
    expect(resume?.status).toBe('running');
  });

  it('a node id made of HTML stays text in its row and its dialog; the budget refusal shows its figures and force overrides it', async () => {
    await row(hostile).waitFor();
    expect(await row(hostile).locator('td[data-label="node"]').textContent()).toBe(hostile);
    await row(hostile).locator('button[data-action="drain"]').click();
    await dialog().waitFor();
    expect(await dialog().locator('h3 code.node-id').textContent()).toBe(hostile);
    expect(await dialog().locator('button.confirm').textContent()).toBe(`Drain ${hostile}`);
    // dash-s and dash-a's untaken command: 2 of 2 already; the dry run says one more exceeds it.
    const verdict = dialog().locator('[data-plan="budget"] dd');
    await verdict.waitFor();
    expect(await verdict.textContent()).toBe('exceeded: online 3, unavailable 2 (1 in flight), this adds 1, allowed 2 (max 2)');
    expect(await dialog().locator('label.force').isVisible()).toBe(true);
    expect(await page.evaluate('[document.querySelectorAll("img").length, window.pwned ?? null]')).toEqual([0, null]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-node-action.png'), fullPage: true });
    // On a phone the dialog fits the screen, long node id and all.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-node-action-phone.png') });
    expect(await page.evaluate('document.querySelector("dialog.node-action").getBoundingClientRect().right <= window.innerWidth')).toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });

    await dialog().locator('textarea[name="reason"]').fill('retire it');
    await dialog().locator('button.confirm').click();
    const refused = dialog().locator('.error[role="alert"]', { hasText: 'The safety budget refuses it' });
    await refused.waitFor();
    expect(await refused.textContent()).toBe('The safety budget refuses it: online 3, unavailable 2 (1 in flight), this adds 1, allowed 2 (max 2).');
    expect(await commandsFor(cp.sb, topic, hostile)).toEqual([]);
    await dialog().locator('label.force input').check();
    await dialog().locator('button.confirm').click();
    await dialog().waitFor({ state: 'detached' });
    const [command] = await commandsArrived(cp.sb, topic, hostile);
    expect(command?.body).toMatchObject({ nodeId: hostile, operation: 'graceful-downscale', reason: 'retire it' });
    const forced = await waitFor(async () => {
      for (const d of await drains()) {
        const s = (await cp.api('GET', `drains/${d.drainId}`)).body;
        if (s.targets?.[0] === hostile) return s;
      }
      return undefined;
    }, 'the forced drain');
    expect(forced).toMatchObject({ forced: true, forcedBy: 'dashboard' });
    await page.locator(`#running [data-drain="${forced.drainId}"] .meta .forced`, { hasText: 'forced by dashboard' }).waitFor({ timeout: 30_000 });
    expect(await page.evaluate('[document.querySelectorAll("img").length, window.pwned ?? null]')).toEqual([0, null]);
    // The browser logs each refused request: the one 409 (confirmed without force) was the test's own.
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 409 (Conflict)']);
  });

  it('an offline node: the dialog says it is not reachable, and so does the drain\'s card once confirmed', async () => {
    await row('dash-off').locator('button[data-action="stop-intake"]').click();
    await dialog().waitFor();
    expect(await dialog().locator('h3').textContent()).toBe(`Stop intake on node dash-off of ${topic}?`);
    const reach = dialog().locator('[data-plan="not reachable"] dd');
    await reach.waitFor();
    expect(await reach.textContent()).toMatch(/^dash-off: offline since \S+ \(the command waits until it expires\)$/);
    await dialog().locator('textarea[name="reason"]').fill('when it is back');
    await dialog().locator('button.confirm').click();
    await dialog().waitFor({ state: 'detached' });
    const drain = await waitFor(async () => {
      for (const d of await drains()) {
        const s = (await cp.api('GET', `drains/${d.drainId}`)).body;
        if (s.targets?.[0] === 'dash-off') return s;
      }
      return undefined;
    }, 'the drain of dash-off');
    const note = page.locator(`#running [data-drain="${drain.drainId}"] .hint.unreachable`);
    await note.waitFor({ timeout: 30_000 });
    expect(await note.textContent()).toMatch(/^not reachable when sent \(each command waits until it expires\): dash-off \(offline since \S+\)$/);
  });
});
