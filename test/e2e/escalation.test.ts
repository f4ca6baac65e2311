import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/errors.js';
import { cli } from '../cli/run-cli.js';
import { launchChromium } from '../dashboard/chromium.js';
import { FUNCTION_KEY, startControlPlane, waitFor, type ControlPlane } from '../support/control-plane.js';
import { buildArtifacts, isRunning, Node, type Artifacts } from '../support/fleet.js';

/**
 * A real agent whose worker ignores SIGTERM: the drain reaches its target only because the agent
 * SIGKILLs the worker at the deadline. That is not plain success (the worker's task may be lost),
 * and the API, the CLI's exit code and the dashboard (Chromium) all say so.
 */
describe('a drain completed by SIGKILL at the deadline', () => {
  const topic = 'esc-1';
  let cp: ControlPlane;
  let artifacts: Artifacts;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  const node = new Node('esc-node-1', topic);

  beforeAll(async () => {
    [cp, artifacts, chrome] = await Promise.all([startControlPlane(), buildArtifacts(), launchChromium()]);
    expect((await cp.api('PUT', `topics/${topic}`)).status).toBe(201);
    await node.startIgnoringSigterm(artifacts, cp.bus.emulator.connectionString);
  }, 120_000);
  afterAll(async () => {
    await node.close();
    await chrome?.close();
    await cp?.close();
  });

  it('is reported as escalated by the API, the CLI exit code and the dashboard', async () => {
    const post = await cp.api('POST', `topics/${topic}/drains`, { count: 1, gracePeriod: '5s', reason: 'escalation e2e' });
    expect(post.status).toBe(202);
    const { drainId } = post.body;

    const done = await waitFor(async () => {
      const d = (await cp.api('GET', `drains/${drainId}`)).body;
      return d.status !== 'running' && d;
    }, 'the drain to end', 60_000);
    expect(isRunning(node.worker)).toBe(false);
    expect(done).toMatchObject({ status: 'completed', counts: { drained: 1, escalated: 1, killed: 1, shortfall: 0 } });
    expect(done.outcome).toBe('1 of 1 nodes reached the target state; 1 worker on 1 node was SIGKILLed at the deadline (their tasks may be lost)');

    const env = { WORKFORCE_API_URL: cp.host.url, WORKFORCE_API_KEY: FUNCTION_KEY };
    const status = await cli(['status', drainId], env);
    expect(status.code).toBe(EXIT.escalated);
    expect(status.stdout).toContain('SIGKILLed at the deadline');
    const watched = await cli(['status', drainId, '--watch', '--interval', '100ms'], env);
    expect(watched.code).toBe(EXIT.escalated);

    const page = await chrome.browser.newPage();
    await page.goto(`${cp.host.url}/api/dashboard?code=${FUNCTION_KEY}`);
    const badge = page.locator(`#recent [data-drain="${drainId}"] .badge`);
    await badge.waitFor();
    expect(await badge.textContent()).toBe('completed, escalated');
    // The stylesheet's colours, resolved by the browser: amber (--draining), green (--done).
    const colours = (await page.evaluate(`(() => {
      const probe = document.body.appendChild(document.createElement('span'));
      const resolve = (v) => ((probe.style.color = getComputedStyle(document.documentElement).getPropertyValue(v)), getComputedStyle(probe).color);
      return { amber: resolve('--draining'), green: resolve('--done') };
    })()`)) as { amber: string; green: string };
    const colour = await page.evaluate(`getComputedStyle(document.querySelector('#recent [data-drain="${drainId}"] .badge')).color`);
    expect(colour).toBe(colours.amber);
    expect(colour).not.toBe(colours.green);
    await page.locator(`[data-topic="${topic}"]`).getByText('last drain completed, escalated').waitFor();
    // The topic's note too is amber.
    expect(await page.evaluate(`getComputedStyle(document.querySelector('[data-topic="${topic}"] .drain-note')).color`)).toBe(colours.amber);
    await page.close();
  });
});
