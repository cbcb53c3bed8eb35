// The dashboard under PERSISTED_ONLY=1, in Chromium: a USER and a MANAGER sign in and use their views (a job submitted,
// followed live, opened; queues paused and resumed) with no operation refused as untrusted — the manifest
// (persisted-operations.json) holds everything the dashboard sends. Skipped, saying so, only where no Chromium is
// installed (as test/dashboard-browser.test.ts).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './helpers/chromium';
import { startTestServer, type TestServer } from './helpers/server';

if (!CHROMIUM) console.warn('trusted-documents dashboard test skipped: no Chromium (install Debian\'s `chromium`, or set CHROMIUM_PATH)');

describe.skipIf(!CHROMIUM)('the dashboard with PERSISTED_ONLY=1', () => {
  let server: TestServer;
  let browser: Browser;
  let origin: string;
  /** Every refusal the page met: an HTTP answer or a WebSocket frame naming PERSISTED_QUERY_NOT_IN_LIST, a page error. */
  const refused: string[] = [];
  /** GraphQL requests the page made, so the test knows it exercised the API. */
  let graphqlRequests = 0;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer({ PERSISTED_ONLY: '1' }),
      launchChromium(),
    ]);
    origin = new URL(server.url).origin;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function signedIn(username: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('pageerror', (error) => refused.push(`page error: ${error.message}`));
    page.on('response', async (response) => {
      if (!response.url().startsWith(`${origin}/graphql`)) return;
      graphqlRequests += 1;
      const body = await response.text().catch(() => '');
      if (response.status() === 403 || body.includes('PERSISTED_QUERY_NOT_IN_LIST')) refused.push(`${response.status()} ${response.request().postData()?.slice(0, 120)}`);
    });
    page.on('websocket', (socket) =>
      socket.on('framereceived', ({ payload }) => {
        if (String(payload).includes('PERSISTED_QUERY_NOT_IN_LIST')) refused.push(`websocket: ${String(payload).slice(0, 160)}`);
      }),
    );
    await page.goto(`${origin}/`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', `${username}-password`);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-current-view]');
    return page;
  }

  const view = async (page: Page, name: string) => {
    await page.click(`nav a[data-view=${name}]`);
    await page.waitForSelector(`[data-current-view=${name}]`);
  };

  test('a USER submits a job, follows it live, opens it, and visits every view it has', async () => {
    await server.userWithRole('USER', 'trusted-user');
    const page = await signedIn('trusted-user');
    await view(page, 'submit');
    await page.fill('input[name=simulations]', '100000');
    await page.click('form button[type=submit]');
    await page.waitForSelector('[data-submitted-job] [data-status=SUCCEEDED]', { timeout: 15_000 });
    const id = (await page.locator('[data-submitted-job]').first().getAttribute('data-submitted-job'))!;
    await view(page, 'jobs');
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.locator('button.link').click();
    await page.locator('.job-detail').getByText('succeeded').waitFor();
    for (const name of ['queues', 'analytics', 'quotes']) await view(page, name);
    await page.close();
    expect(refused).toEqual([]);
    expect(graphqlRequests).toBeGreaterThan(4);
  }, 60_000);

  test('a MANAGER pauses and resumes a queue and watches the workers', async () => {
    await server.userWithRole('MANAGER', 'trusted-manager');
    const page = await signedIn('trusted-manager');
    await view(page, 'queues');
    await page.locator('tr[data-queue=default] button', { hasText: 'Pause' }).click();
    await page.locator('tr[data-queue=default] [data-paused=true]').waitFor();
    await page.locator('tr[data-queue=default] button', { hasText: 'Resume' }).click();
    await page.locator('tr[data-queue=default] [data-paused=false]').waitFor();
    await view(page, 'workers');
    await page.close();
    expect(refused).toEqual([]);
  }, 60_000);
});
