// The dashboard in a real browser: Debian's Chromium through playwright-core (as .ci/browser-check.ts drives
// GraphiQL), for test/dashboard-browser.test.ts and test/dashboard-actions.test.ts — two files, so that the two
// halves run in two test workers at once. Screenshots go to test-output/dashboard/ (git-ignored).
import { afterAll, beforeAll } from 'bun:test';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { optionalTool } from './required';
import { startTestServer, type TestServer } from './server';

/** Chromium's path; undefined (the tests skip, saying so) where none is installed, an error under JOBGRAPH_REQUIRE_ALL. */
export const CHROMIUM = optionalTool(
  [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => path && existsSync(path)),
  'Chromium',
);
const SCREENSHOTS = join(import.meta.dir, '..', '..', 'test-output', 'dashboard');
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface DashboardHarness {
  server: TestServer;
  origin: string;
  /** What no page may do: a request off the server's origin, a page error, a refusal by the page's policy. */
  offsite: string[];
  openPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Signs in from the page the server's root leads to; `shotName`: a screenshot of the form first. */
  signIn(page: Page, username: string, password: string, shotName?: string): Promise<void>;
  shot(page: Page, name: string): Promise<unknown>;
  /** Opens a view from the navigation and waits for it. */
  view(page: Page, name: string): Promise<void>;
  /** Serious and critical axe-core violations on the page as it is now (axe's source evaluated in the page). */
  axeViolations(page: Page): Promise<string[]>;
}

/**
 * Starts a test server (the real CDC file: the chart shows every state and territory) and a Chromium for the
 * tests of the describe block it is called in; both stop after them. The harness's fields are set once it started.
 */
export function dashboardInChromium(env: Record<string, string>): DashboardHarness {
  let browser: Browser;
  const harness = { offsite: [] as string[] } as unknown as DashboardHarness;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    let server: TestServer;
    [server, browser] = await Promise.all([
      startTestServer(env),
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
      }),
    ]);
    harness.server = server;
    harness.origin = new URL(server.url).origin;
    // A liveness bound: Chromium's start took over 20 s with two suites beside this one (load ~28).
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await harness.server?.stop();
  });

  harness.openPage = async (viewport = { width: 1360, height: 900 }) => {
    const page = await browser.newPage({ viewport });
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== harness.origin && !['data:', 'blob:'].includes(url.protocol)) harness.offsite.push(request.url());
    });
    page.on('pageerror', (error) => harness.offsite.push(`page error: ${error.message}`));
    // The page's Content-Security-Policy (script-src 'self') must refuse nothing the dashboard does.
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) harness.offsite.push(`refused by the page's policy: ${message.text()}`);
    });
    return page;
  };

  harness.signIn = async (page, username, password, shotName) => {
    await page.goto(`${harness.origin}/`);
    await page.waitForURL(/\/dashboard/);
    await page.fill('input[name=username]', username);
    if (shotName) await harness.shot(page, shotName);
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-current-view]');
  };

  harness.shot = (page, name) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  harness.view = async (page, name) => {
    await page.click(`nav a[data-view=${name}]`);
    await page.waitForSelector(`[data-current-view=${name}]`);
  };

  harness.axeViolations = async (page) => {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
    return page.evaluate(async () => {
      const { violations } = await (window as any).axe.run(document, { resultTypes: ['violations'] });
      return violations
        .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
        .map((v: any) => `${v.id}: ${v.nodes.slice(0, 3).map((n: any) => n.target.join(' ')).join(', ')}`);
    });
  };

  return harness;
}
