// The browser check: GraphiQL, served by jobgraph with no network, runs a query and shows a subscription
// event that arrives over WebSocket. Uses Debian's Chromium through playwright-core (no browser download).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { spawnServer } from '../test/helpers/process';

const ADMIN_PASSWORD = 'browser-check-password';
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-browser-'));
const server = await spawnServer({ DATABASE_PATH: join(dir, 'jobgraph.db'), ADMIN_PASSWORD });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
});

const framesSentForDebug: string[] = [];
const step = (message: string) => console.log(`browser check: ${message}`);
try {
  const login = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `mutation { login(username: "admin", password: "${ADMIN_PASSWORD}") { token } }` }),
  });
  const token = ((await login.json()) as any).data.login.token as string;

  const page = await browser.newPage();
  const offsite: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['127.0.0.1', 'localhost'].includes(url.hostname) && !['data:', 'blob:'].includes(url.protocol)) offsite.push(request.url());
  });
  // The page's Content-Security-Policy (script-src 'self') must refuse nothing GraphiQL needs.
  const refusedByPolicy: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refusedByPolicy.push(message.text());
  });
  const framesSent: string[] = framesSentForDebug;
  page.on('websocket', (ws) => ws.on('framesent', (frame) => framesSent.push(String(frame.payload))));
  // GraphiQL keeps its header editor in localStorage; preset the admin's token there.
  await page.addInitScript((headers) => localStorage.setItem('graphiql:headers', headers), JSON.stringify({ authorization: `Bearer ${token}` }));

  const open = async (query: string) => {
    await page.goto(`${server.url}?query=${encodeURIComponent(query)}`);
    await page.locator('.graphiql-execute-button').first().click({ timeout: 30_000 });
  };
  const results = () => page.locator('.graphiql-response').first().innerText();
  const waitForResult = async (text: string, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!(await results()).includes(text)) {
      if (Date.now() > deadline) throw new Error(`${what}: "${text}" never appeared; results: ${await results()}`);
      await Bun.sleep(200);
    }
  };

  await open('query Me { me { username role } }');
  await waitForResult('"ADMIN"', 'query');
  step('GraphiQL ran a query over HTTP');

  await open('subscription Logins { loginEvents { username success } }');
  await Bun.sleep(1000);
  await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation { login(username: "browser-ghost", password: "not-a-password") { token } }' }),
  });
  await waitForResult('browser-ghost', 'subscription');
  if (!framesSent.some((frame) => frame.includes('"subscribe"'))) throw new Error('the subscription did not go over WebSocket');
  step('GraphiQL showed a subscription event that arrived over WebSocket');
  if (offsite.length) throw new Error(`GraphiQL reached off the machine: ${offsite.join(', ')}`);
  step('GraphiQL loaded nothing from off the machine');
  if (refusedByPolicy.length) throw new Error(`the Content-Security-Policy refused: ${refusedByPolicy.join('; ')}`);
  step('GraphiQL ran under its Content-Security-Policy without a refusal');
} catch (error) {
  console.error('browser check failed:', error);
  if (process.env.DEBUG_BROWSER_CHECK) console.error(framesSentForDebug);
  process.exitCode = 1;
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
