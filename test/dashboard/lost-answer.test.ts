import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { launchChromium } from './chromium.js';
import { openDashboard } from './open-dashboard.js';

/**
 * A node action whose answer is lost (the API started the drain, the browser saw the request
 * fail): the dialog says so, and confirming again sends the same drain id, so the API refuses a
 * second drain (409 DrainExists) and the dialog closes as accepted. One drain, one command.
 */
describe('dashboard: a confirmed drain whose answer is lost', () => {
  const topic = 'dash-lost';
  let cp: ControlPlane;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const drains = async () => (await cp.api('GET', `drains?topic=${topic}`)).body.drains as Array<{ drainId: string }>;
  const dialog = () => page.locator('dialog.node-action[open]');

  beforeAll(async () => {
    [cp, chrome] = await Promise.all([startControlPlane(), launchChromium()]);
    expect((await cp.api('PUT', `topics/${topic}`)).status).toBe(201);
    await sendPresence(cp.sb, [presenceReport(topic, 'lost-a', { heartbeatSeconds: 3600 })]);
    await waitFor(async () => (await cp.api('GET', `topics/${topic}/nodes`)).body.nodes?.length === 1, 'the node in the inventory');
    page = await openDashboard(chrome.browser, cp.host.url);
  }, 120_000);
  afterAll(async () => {
    await chrome?.close();
    await cp?.close();
  });

  it('confirming again after the lost answer starts no second drain, and the dialog closes', async () => {
    const sent: Array<{ drainId?: string; upstream?: number }> = [];
    await page.route(`**/api/topics/${topic}/drains`, async (route) => {
      const body = route.request().postDataJSON() as { dryRun?: boolean; drainId?: string };
      if (body.dryRun) return route.continue();
      sent.push({ drainId: body.drainId });
      if (sent.length > 1) return route.continue();
      // The API acts on it; its answer never reaches the page.
      sent[0]!.upstream = (await route.fetch()).status();
      await route.abort('connectionreset');
    });
    const row = page.locator(`[data-topic="${topic}"] tr[data-node="lost-a"]`);
    await row.waitFor({ timeout: 30_000 });
    await row.locator('button[data-action="drain"]').click();
    await dialog().locator('[data-plan="budget"] dd').waitFor();
    await dialog().locator('textarea[name="reason"]').fill('disk failing');
    await dialog().locator('button.confirm').click();
    const lost = dialog().locator('.error[role="alert"]', { hasText: 'confirm again to make sure (it cannot start twice)' });
    await lost.waitFor();
    expect(sent).toEqual([{ drainId: expect.any(String), upstream: 202 }]);

    await dialog().locator('button.confirm').click();
    await dialog().waitFor({ state: 'detached' });
    expect(sent.map((s) => s.drainId)).toEqual([sent[0]!.drainId, sent[0]!.drainId]);
    expect((await drains()).map((d) => d.drainId)).toEqual([sent[0]!.drainId]);
  });
});
