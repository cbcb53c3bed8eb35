// The dashboard's Flows view in Chromium: a flow drawn as a graph, nodes coloured by status and kept live, each
// linked to its job. Skipped, saying so, where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium } from './helpers/chromium';
import { ADMIN_PASSWORD, gqlData, startTestServer, type TestServer } from './helpers/server';

const SCREENSHOTS = join(import.meta.dir, '..', 'test-output', 'dashboard');

describe.skipIf(!CHROMIUM)('the Flows view', () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('draws a flow, recolours its nodes live, and links each to its job', async () => {
    const admin = await server.adminToken();
    const data = (query: string, variables: Record<string, unknown> = {}) => gqlData(server, query, variables, admin);
    await data('mutation { createQueue(input: { name: "drawn" }) { name } }');
    await data('mutation { pauseQueue(name: "drawn") { paused } }');
    const tiny = { pi: { simulations: 100 } };
    const { submitFlow } = await data('mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id } }', {
      input: {
        name: 'drawn',
        options: { queue: 'drawn' },
        nodes: [
          { key: 'a', job: tiny },
          { key: 'b', job: tiny, dependsOn: ['a'] },
          { key: 'c', job: tiny, dependsOn: ['a'] },
          { key: 'd', job: tiny, dependsOn: ['b', 'c'] },
        ],
      },
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const origin = new URL(server.url).origin;
    await page.goto(`${origin}/dashboard`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-current-view]');
    await page.click('nav a[data-view=flows]');
    await page.click(`[data-flow-row="${submitFlow.id}"] button`);
    await page.waitForSelector('[data-node="d"]');
    const statuses = () => page.$$eval('[data-node]', (nodes) => nodes.map((node) => `${node.getAttribute('data-node')}:${node.getAttribute('data-status')}`));
    expect(await statuses()).toEqual(['a:QUEUED', 'b:WAITING', 'c:WAITING', 'd:WAITING']);
    expect(await page.locator('.flow-graph line').count()).toBe(4);
    // Resumed: the flow runs, and the drawing follows it without a reload.
    await data('mutation { resumeQueue(name: "drawn") { paused } }');
    await page.waitForSelector('[data-flow-status=SUCCEEDED]', { timeout: 20_000 });
    await page.waitForFunction(() => [...document.querySelectorAll('[data-node]')].every((node) => node.getAttribute('data-status') === 'SUCCEEDED'), undefined, { timeout: 20_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'flow.png'), fullPage: true });
    const href = await page.getAttribute('[data-node="d"]', 'href');
    const { flow } = await data('query($id: ID!) { flow(id: $id) { nodes { key job { id } } } }', { id: submitFlow.id });
    expect(href).toBe(`#/jobs/${flow.nodes[3].job.id}`);
    await page.click('[data-node="d"]');
    await page.waitForSelector('[data-current-view=jobs]');
    await page.close();
  }, 60_000);
});
