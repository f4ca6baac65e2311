import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report, sendReports, takeControlMessages } from '../support/agents.js';
import { FUNCTION_KEY, ROOT, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { launchChromium } from './chromium.js';
import { openDashboard } from './open-dashboard.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/**
 * The dashboard in real headless Chromium against the local control plane: it asks for the key,
 * renders topics and drains, and a drain progresses on screen (reports sent as agents send
 * them) without a reload. Screenshots land in test-artifacts/.
 */
describe('dashboard in Chromium', () => {
  let cp: ControlPlane;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    [cp, chrome] = await Promise.all([startControlPlane(), launchChromium()]);
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const t of ['eu-west', 'us-east']) expect((await cp.api('PUT', `topics/${t}`)).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await chrome?.close();
    await cp?.close();
  });

  const drainIdOf = async (topic: string) => ((await takeControlMessages(cp.sb, topic, 1, 15_000))[0]!.body as { drainId: string }).drainId;
  const folded = (drainId: string, probe: (d: any) => boolean) => waitFor(async () => probe((await cp.api('GET', `drains/${drainId}`)).body), `drain ${drainId} to fold`);

  it('serves the page without a key and asks for one; a wrong key is refused on the page', async () => {
    const res = await fetch(`${cp.host.url}/api/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await fetch(`${cp.host.url}/api/dashboard/../../drains`)).status).not.toBe(200);
    // The page and its assets, from /api/dashboard and from /api/dashboard/; nothing at other paths.
    for (const ok of ['/', '/app.js', '/dashboard/app.js']) expect((await fetch(`${cp.host.url}/api/dashboard${ok}`)).status, ok).toBe(200);
    for (const no of ['/x/app.js', '/dashboard/dashboard/app.js', '/nope.html']) {
      const r = await fetch(`${cp.host.url}/api/dashboard${no}`);
      expect([r.status, r.headers.get('content-type')], no).toEqual([404, 'application/problem+json']);
    }
    const page = await chrome.browser.newPage();
    await page.goto(`${cp.host.url}/api/dashboard`);
    await page.locator('#key-form').waitFor({ state: 'visible' });
    await page.fill('#key', 'wrong');
    await page.click('#key-form button');
    await page.getByText('That key was refused.').waitFor();
    await page.fill('#key', FUNCTION_KEY);
    await page.click('#key-form button');
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.close();
  });

  it('keeps the key for the tab only and takes ?code= out of the address at once', async () => {
    const context = await chrome.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${cp.host.url}/api/dashboard/?code=${FUNCTION_KEY}&view=all#recent`);
    await page.locator('#connection[data-state="live"]').waitFor();
    // The rest of the address is left as it was.
    expect(page.url()).toBe(`${cp.host.url}/api/dashboard/?view=all#recent`);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(await page.evaluate(`sessionStorage.getItem('workforce.functionKey')`)).toBe(FUNCTION_KEY);
    // A reload in the same tab goes on with the key; a new tab asks for it.
    await page.reload();
    await page.locator('#connection[data-state="live"]').waitFor();
    // Nor does the back button bring it back: the entry was replaced, not added.
    await page.goBack();
    expect(page.url()).toBe('about:blank');
    const other = await context.newPage();
    await other.goto(`${cp.host.url}/api/dashboard/`);
    await other.locator('#key-form').waitFor({ state: 'visible' });
    await context.close();
  });

  it('GET /api/topics lists the provisioned topics (function key)', async () => {
    const res = await cp.api('GET', 'topics');
    expect(res.status).toBe(200);
    expect(res.body.topics.map((t: { name: string }) => t.name)).toEqual(['eu-west', 'us-east']);
    expect((await cp.api('GET', 'topics', undefined, null)).status).toBe(401);
  });

  it('a drain progresses live: accepted → draining → drained, then it moves to recent', async () => {
    // History for the page: a completed drain on us-east.
    const done = await cp.api('POST', 'topics/us-east/drains', { count: 1, gracePeriod: '1h', reason: 'nightly scale-down', requestedBy: 'ops@example' });
    const doneId = await drainIdOf('us-east');
    expect(doneId).toBe(done.body.drainId);
    await sendReports(cp.sb, [report(doneId, 1, 'us-node-3', 'accepted', 'us-east'), report(doneId, 1, 'us-node-3', 'drained', 'us-east')]);
    await folded(doneId, (d) => d.status === 'completed');

    const errors: string[] = [];
    const page = await openDashboard(chrome.browser, cp.host.url, errors);
    await page.locator('[data-topic="us-east"]', { hasText: 'last drain completed' }).waitFor();
    // Provisioned topics show before their first drain (GET /api/topics).
    await page.locator('[data-topic="eu-west"]', { hasText: 'no drain yet' }).waitFor();
    await page.getByText('Nothing is draining.').waitFor();
    // (Expressions as strings: the tests compile without the DOM library.)
    await page.evaluate('window.marker = 42');

    const post = await cp.api('POST', 'topics/eu-west/drains', { count: 3, gracePeriod: '2h', reason: 'shrink eu-west for the weekend', requestedBy: 'alice@ops' });
    const drainId = post.body.drainId as string;
    const msgs = await takeControlMessages(cp.sb, 'eu-west', 3, 15_000);
    expect(msgs).toHaveLength(3);
    const card = page.locator(`#running [data-drain="${drainId}"]`);
    await card.waitFor();
    await card.getByText('No node has taken this drain yet.').waitFor();
    // The messages no node took yet, and when they expire.
    await card.locator('[data-count="untaken"]', { hasText: '3' }).waitFor();
    expect(await card.locator('.meta .untaken').textContent()).toMatch(/^3 untaken, expire in \d+m/);

    const nodes = ['eu-node-1', 'eu-node-2', 'eu-node-4'];
    await sendReports(cp.sb, nodes.map((n, i) => report(drainId, i + 1, n, 'accepted', 'eu-west')));
    for (const n of nodes) await card.locator(`[data-node="${n}"][data-state="accepted"]`).waitFor();
    expect(await card.locator('[data-count="untaken"]').count()).toBe(0);
    await sendReports(cp.sb, [report(drainId, 1, 'eu-node-1', 'signalled', 'eu-west'), report(drainId, 2, 'eu-node-2', 'signalled', 'eu-west')]);
    await card.locator('[data-node="eu-node-1"][data-state="draining"]').waitFor();
    await card.locator('[data-node="eu-node-2"][data-state="draining"]').waitFor();
    await sendReports(cp.sb, [report(drainId, 2, 'eu-node-2', 'drained', 'eu-west')]);
    await card.locator('[data-count="drained"]', { hasText: '1/3' }).waitFor();
    // The workers still running a task, while the drain runs (GET /api/drains/{id}/workers).
    expect(await card.locator('[data-node="eu-node-1"] td[data-label="workers"]').textContent()).toBe('eu-node-1-w (pid 1001)');
    expect(await card.locator('[data-node="eu-node-2"] td[data-label="workers"]').textContent()).toBe('all exited');
    await page.locator('[data-topic="eu-west"]', { hasText: '1 draining' }).waitFor();
    // The deadline counts down on screen.
    expect(await card.locator('.deadline strong').textContent()).toMatch(/^in 1h 59m|^in 2h/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    // On a phone the page does not scroll sideways.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);

    await sendReports(cp.sb, [report(drainId, 1, 'eu-node-1', 'drained', 'eu-west'), report(drainId, 3, 'eu-node-4', 'signalled', 'eu-west'), report(drainId, 3, 'eu-node-4', 'drained', 'eu-west')]);
    const ended = page.locator(`#recent [data-drain="${drainId}"][data-status="completed"]`);
    await ended.waitFor();
    expect(await page.locator(`#running [data-drain="${drainId}"]`).count()).toBe(0);
    // Opening an ended drain shows every node with its workers.
    await ended.locator('button.card-head').click();
    await ended.locator('[data-node="eu-node-4"][data-state="drained"]').waitFor();
    expect(await ended.locator('[data-node="eu-node-4"] td[data-label="workers"]').textContent()).toBe('all exited');
    // All of it without a reload.
    expect(await page.evaluate('window.marker')).toBe(42);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});
