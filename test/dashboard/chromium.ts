// Headless Chromium for the dashboard tests: the Debian package (/usr/bin/chromium, installed by
// .ci/run), driven through playwright-core. `launch` gives every browser a fresh temporary
// profile (it refuses a --user-data-dir argument) and removes it on close.

import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  return {
    browser,
    close: () => browser.close().catch(() => {}),
  };
}
