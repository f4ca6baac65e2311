// The dashboard in a page of headless Chromium, signed in with the function key and live.

import type { Browser, Page } from 'playwright-core';
import { FUNCTION_KEY } from '../support/control-plane.js';

/** Opens the dashboard of the host at `hostUrl` at desktop size and waits until it is live; page and console errors go to `errors`. */
export async function openDashboard(browser: Browser, hostUrl: string, errors?: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  if (errors) {
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  }
  await page.goto(`${hostUrl}/api/dashboard?code=${FUNCTION_KEY}`);
  await page.locator('#connection[data-state="live"]').waitFor();
  return page;
}
