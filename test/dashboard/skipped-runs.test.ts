import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { presenceReport, sendPresence } from '../support/presence-reports.js';
import { cli } from '../cli/run-cli.js';
import { launchChromium } from './chromium.js';
import { openDashboard } from './open-dashboard.js';

const NIGHTLY = { name: 'nightly-ui', schedule: '0 0 22 * * *', topic: 'skip-ui', count: 2, gracePeriod: '1h', reason: 'nightly scale-down' };

/**
 * A scheduled occurrence the budget skipped (three nodes, at most 33 % unavailable, a schedule
 * asking for two) is news on the topic's card and under `workforce topics`: which schedule, when,
 * and the figures.
 */
describe('a scheduled run the budget skipped, in the dashboard and the CLI', () => {
  let cp: ControlPlane;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  beforeAll(async () => {
    [cp, chrome] = await Promise.all([startControlPlane({ schedules: [NIGHTLY] }), launchChromium()]);
    expect((await cp.api('PUT', 'topics/skip-ui')).status).toBe(201);
    await sendPresence(cp.sb, ['s-1', 's-2', 's-3'].map((id) => presenceReport('skip-ui', id, { heartbeatSeconds: 3_600 })));
    await waitFor(async () => (await cp.api('GET', 'topics/skip-ui/nodes')).body?.nodes?.length === 3, 'three nodes in the inventory');
    expect((await cp.api('PUT', 'topics/skip-ui/policy', { maxUnavailable: '33%' })).status).toBe(200);
    page = await openDashboard(chrome.browser, cp.host.url);
  }, 120_000);
  afterAll(async () => {
    await chrome?.close();
    await cp?.close();
  });

  it('shows the newest skipped run with its figures on the card, and under workforce topics', async () => {
    const card = page.locator('[data-topic="skip-ui"]');
    await card.locator('.budget[data-budget="33%"]').waitFor({ timeout: 30_000 });
    expect(await card.locator('.skipped').count()).toBe(0);

    const now = new Date(cp.clock.now());
    const at22 = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 22));
    if (at22.getTime() <= now.getTime()) at22.setUTCDate(at22.getUTCDate() + 1);
    await cp.clock.set(at22);
    const note = card.locator('.skipped[data-skipped="nightly-ui"]');
    await note.waitFor({ timeout: 30_000 });
    expect(await note.textContent()).toBe(`Scheduled run nightly-ui skipped by the budget at ${at22.toISOString()}: online 3, unavailable 0, requested 2, allowed 1`);

    const topics = await cli(['topics'], { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY });
    expect(topics.stdout).toContain(`\nskip-ui: scheduled run nightly-ui at ${at22.toISOString()} skipped by the budget: `);
    expect(topics.stdout).toMatch(/past its budget/);
  });
});
