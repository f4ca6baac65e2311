import os from 'node:os';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlaneWithNode, type Node } from '../support/fleet.js';
import { ROOT, waitFor, type ControlPlane } from '../support/control-plane.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { launchChromium } from './chromium.js';
import { openDashboard } from './open-dashboard.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** A CSS custom property of the page, resolved by the browser to the colour it paints. */
const cssColour = (page: Page, property: string) =>
  page.evaluate(`(() => {
    const probe = document.body.appendChild(document.createElement('span'));
    probe.style.color = getComputedStyle(document.documentElement).getPropertyValue('${property}');
    const colour = getComputedStyle(probe).color;
    probe.remove();
    return colour;
  })()`) as Promise<string>;

/**
 * The dashboard's fleet view in Chromium against the local system: a real agent (heartbeat 2 s)
 * in its topic's node table, a node that fell silent highlighted as stale, hostile report
 * text shown as text, paging through a topic of simulated nodes, and the hint on a drain that no
 * node can take.
 */
describe('dashboard fleet view in Chromium', () => {
  const topic = 'fleet-ui';
  let cp: ControlPlane;
  let node: Node;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    [{ cp, node }, chrome] = await Promise.all([
      controlPlaneWithNode(topic, 'ui-node-1', { tasks: 0, taskMs: 0, agentEnv: { WORKFORCE_HEARTBEAT: '2s' } }),
      launchChromium(),
    ]);
    mkdirSync(ARTIFACTS, { recursive: true });
    // A node that falls silent after one heartbeat, with markup in what it reports.
    await sendPresence(cp.sb, [presenceReport(topic, 'xss-node', {
      heartbeatSeconds: 1,
      hostName: '<img src=x onerror="window.pwned=1">',
      workers: [{ workerId: '<b id="injected">w</b>', pid: 4242, signals: {}, alive: true }],
      workerCount: 1,
    })]);
    page = await openDashboard(chrome.browser, cp.host.url, errors);
  }, 120_000);
  afterAll(async () => {
    await chrome?.close();
    await node?.close();
    await cp?.close();
  });

  it('shows the real agent in its topic, with counts by state, last seen and workers', async () => {
    const card = page.locator(`[data-topic="${topic}"]`);
    // A small topic opens its node table by itself.
    const row = card.locator('tr[data-node="ui-node-1"][data-state="active"]');
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator('td[data-label="host"]').textContent()).toBe(os.hostname());
    expect(await row.locator('td[data-label="workers"]').textContent()).toMatch(/^1\/1 alive ui-node-1-w0 \(pid \d+\)$/);
    expect(await row.locator('td[data-label="last seen"]').textContent()).toMatch(/^\d+s ago$/);
    await card.locator('[data-count="active"] strong', { hasText: '1' }).waitFor();
  });

  it('highlights a node that stopped heartbeating as stale, and shows report text as text', async () => {
    const card = page.locator(`[data-topic="${topic}"]`);
    const stale = card.locator('tr.stale[data-node="xss-node"]');
    await stale.waitFor({ timeout: 30_000 });
    expect(await stale.locator('td[data-label="state"]').textContent()).toBe('stalewas active');
    await card.locator('[data-count="stale"] strong', { hasText: '1' }).waitFor();
    // Highlighted: its row's background is the stale colour's tint, the active row's is not.
    const background = (selector: string) => page.evaluate(`getComputedStyle(document.querySelector('${selector} td')).backgroundColor`);
    const [staleBg, activeBg] = [await background('tr[data-node="xss-node"]'), await background('tr[data-node="ui-node-1"]')];
    expect(staleBg).not.toBe(activeBg);
    expect(await page.evaluate(`getComputedStyle(document.querySelector('tr[data-node="xss-node"] .state.stale')).backgroundColor`)).toBe(await cssColour(page, '--stale'));
    // The host name and the worker id are shown as they were sent, and nothing of them ran or was parsed.
    expect(await stale.locator('td[data-label="host"]').textContent()).toBe('<img src=x onerror="window.pwned=1">');
    expect(await stale.locator('td[data-label="workers"]').textContent()).toContain('<b id="injected">w</b> (pid 4242)');
    expect(await page.evaluate('[document.querySelectorAll("#topics img").length, document.getElementById("injected"), window.pwned ?? null]')).toEqual([0, null, null]);
    // A state's count filters the table.
    await card.locator('button[data-count="stale"]').click();
    await card.locator('tr[data-node="ui-node-1"]').waitFor({ state: 'detached' });
    await card.locator('tr[data-node="xss-node"]').waitFor();
    expect(await card.locator('tbody tr').count()).toBe(1);
    await card.locator('button[data-count="stale"]').click();
    await card.locator('tr[data-node="ui-node-1"]').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-fleet.png'), fullPage: true });
    // On a phone the node table does not make the page scroll sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-fleet-phone.png'), fullPage: true });
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('pages through a topic of 62 nodes, 50 at a time', async () => {
    const many = 'fleet-ui-many';
    expect((await cp.api('PUT', `topics/${many}`)).status).toBe(201);
    const ids = Array.from({ length: 62 }, (_, i) => `sim-${String(i).padStart(2, '0')}`);
    await sendPresence(cp.sb, ids.map((id) => presenceReport(many, id, { heartbeatSeconds: 3600 })));
    const card = page.locator(`[data-topic="${many}"]`);
    await card.locator('[data-count="active"] strong', { hasText: '62' }).waitFor({ timeout: 30_000 });
    // More than a glance: closed until asked for.
    expect(await card.locator('table').count()).toBe(0);
    expect(await card.locator('button.toggle').getAttribute('aria-expanded')).toBe('false');
    await card.locator('button.toggle').click();
    expect(await card.locator('button.toggle').getAttribute('aria-expanded')).toBe('true');
    await card.locator('tr[data-node="sim-49"]').waitFor();
    expect(await card.locator('tbody tr').count()).toBe(50);
    expect(await card.locator('.pager').textContent()).toContain('nodes 1–50');
    await card.locator('.pager button.next').click();
    await card.locator('tr[data-node="sim-61"]').waitFor();
    expect(await card.locator('tbody tr').count()).toBe(12);
    expect(await card.locator('.pager button.next').isDisabled()).toBe(true);
    await card.locator('.pager button.prev').click();
    await card.locator('tr[data-node="sim-00"]').waitFor();
  });

  it('a drain no node can take shows the hint; an ended drain shows its mode, time and reason', async () => {
    // The agent drains once, then takes no control message until `workforce-agent reset`.
    const first = await cp.api('POST', `topics/${topic}/drains`, { count: 1, reason: 'first of two' });
    await waitFor(async () => (await cp.api('GET', `drains/${first.body.drainId}`)).body.status === 'completed', 'the first drain to complete', 60_000);
    await page.locator(`[data-topic="${topic}"] tr[data-node="ui-node-1"][data-state="drained"]`).waitFor({ timeout: 30_000 });

    const second = await cp.api('POST', `topics/${topic}/drains`, { count: 1, reason: 'nobody home' });
    const card = page.locator(`#running [data-drain="${second.body.drainId}"]`);
    const hint = /^1 message untaken, it expires at \d\d:\d\d:\d\dZ; fleet-ui has 0 active or intake-stopped nodes online: 1 drained, 1 stale \(a drained node takes no control message until `workforce-agent reset`\)$/;
    await card.locator('.hint', { hasText: hint }).waitFor({ timeout: 30_000 });
    const recent = page.locator(`#recent [data-drain="${first.body.drainId}"] .recent-meta`);
    await recent.waitFor();
    expect(await recent.textContent()).toMatch(/^graceful-downscaleended .+ \(\d+s ago\)“first of two”$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-hint.png'), fullPage: true });
    expect((await cp.api('POST', `drains/${second.body.drainId}/cancel`, {})).status).toBe(202);
    expect(errors).toEqual([]);
  });
});
