// The dashboard in a real browser: Debian's Chromium through playwright-core (as .ci/browser-check.ts drives
// GraphiQL). Skipped, saying so, only where no Chromium is installed; CI installs it before `bun test`.
// Screenshots go to test-output/dashboard/ (git-ignored).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { BUNDLED_ANALYTICS_CSV } from '../src/config';
import { optionalTool } from './helpers/required';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './helpers/server';

const CHROMIUM = optionalTool(
  [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => path && existsSync(path)),
  'Chromium',
);
const SCREENSHOTS = join(import.meta.dir, '..', 'test-output', 'dashboard');
if (!CHROMIUM) console.warn('dashboard browser test skipped: no Chromium (install Debian\'s `chromium`, or set CHROMIUM_PATH)');

describe.skipIf(!CHROMIUM)('the dashboard in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let origin: string;
  const offsite: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [server, browser] = await Promise.all([
      // The real CDC file: the chart shows every state and territory.
      startTestServer({ ANALYTICS_CSV: BUNDLED_ANALYTICS_CSV }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
      }),
    ]);
    origin = new URL(server.url).origin;
  }, 20_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function openPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== origin && !['data:', 'blob:'].includes(url.protocol)) offsite.push(request.url());
    });
    page.on('pageerror', (error) => offsite.push(`page error: ${error.message}`));
    // The page's Content-Security-Policy (script-src 'self') must refuse nothing the dashboard does.
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) offsite.push(`refused by the page's policy: ${message.text()}`);
    });
    return page;
  }

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(`${origin}/`);
    await page.waitForURL(/\/dashboard/);
    await page.fill('input[name=username]', username);
    if (username === 'admin') await shot(page, 'sign-in');
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-current-view]');
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const view = async (page: Page, name: string) => {
    await page.click(`nav a[data-view=${name}]`);
    await page.waitForSelector(`[data-current-view=${name}]`);
  };
  const trailOf = (page: Page, id: string) => page.getAttribute(`[data-submitted-job="${id}"] .trail`, 'data-trail');

  /** Submits a π job from the Submit view to `queue`; its id. */
  async function submitPi(page: Page, queue: string, simulations: number): Promise<string> {
    await view(page, 'submit');
    await page.fill('input[name=simulations]', String(simulations));
    await page.selectOption('select[name=queue]', queue);
    const before = await page.locator('[data-submitted-job]').count();
    await page.click('form button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-submitted-job]').length > n, before);
    return (await page.locator('[data-submitted-job]').first().getAttribute('data-submitted-job'))!;
  }

  test('an admin signs in, follows jobs live, pauses and resumes a queue, and opens every view', async () => {
    const admin = await server.adminToken();
    // A queue that runs one job at a time, busy for a moment: the π job waits (QUEUED) while the page listens.
    await server.gql('mutation { createQueue(input: { name: "lifecycle", concurrency: 1 }) { name } }', {}, admin);
    await server.gql('mutation { createQueue(input: { name: "batch" }) { name } }', {}, admin);
    const page = await openPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Jobs', 'Queues', 'Workers', 'Submit', 'Analytics', 'Quotes', 'Logins']);

    // QUEUED → RUNNING → SUCCEEDED, seen by the page without a reload.
    await server.gql('mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 800, queue: "lifecycle" }, count: 1) { id } }', {}, admin);
    const watched = server.nextSubscriptions('jobUpdated');
    const piId = await submitPi(page, 'lifecycle', 50_000_000);
    await watched;
    await page.waitForSelector(`[data-submitted-job="${piId}"] [data-status=SUCCEEDED]`, { timeout: 15_000 });
    expect(await trailOf(page, piId)).toBe('QUEUED RUNNING SUCCEEDED');
    await shot(page, 'submit');

    await view(page, 'jobs');
    const row = page.locator(`tr[data-job="${piId}"]`);
    await row.locator('[data-status=SUCCEEDED]').waitFor();
    await row.locator('button.link').click();
    await page.locator('.job-detail').getByText('succeeded').waitFor();
    expect(await page.locator('.job-detail').innerText()).toContain('"pi"');
    expect(await page.locator('[data-total]').getAttribute('data-total')).toBe('2');
    await shot(page, 'jobs');

    // Paused, a queue keeps a new job QUEUED (a later job of another queue finishes first); resumed, it runs.
    await view(page, 'queues');
    await page.locator('tr[data-queue=batch] button', { hasText: 'Pause' }).click();
    await page.locator('tr[data-queue=batch] [data-paused=true]').waitFor();
    const heldId = await submitPi(page, 'batch', 1_000_000);
    const laterId = await submitPi(page, 'default', 1_000_000);
    await page.waitForSelector(`[data-submitted-job="${laterId}"] [data-status=SUCCEEDED]`);
    expect(await trailOf(page, heldId)).toBe('QUEUED');

    // The actions a row offers: cancel (seen live), retry, delete (after a confirm).
    const spare = (await server.gql<any>('mutation { submitPiJob(input: { simulations: 1000, queue: "batch" }) { id } }', {}, admin)).data.submitPiJob.id;
    page.on('dialog', (dialog) => dialog.accept());
    await view(page, 'jobs');
    const spareRow = page.locator(`tr[data-job="${spare}"]`);
    await spareRow.locator('button', { hasText: 'Cancel' }).click();
    await spareRow.locator('[data-status=CANCELLED]').waitFor();
    await spareRow.locator('button', { hasText: 'Retry' }).click();
    await spareRow.locator('[data-status=QUEUED]').waitFor();
    await spareRow.locator('button', { hasText: 'Delete' }).click();
    await spareRow.waitFor({ state: 'detached' });
    expect((await server.gql<any>('query($id: ID!) { job(id: $id) { id } }', { id: spare }, admin)).data.job).toBeNull();

    // An admin edits a queue.
    await view(page, 'queues');
    await page.locator('tr[data-queue=batch] button', { hasText: 'Edit' }).click();
    await page.fill('tr[data-queue=batch] input[name=concurrency]', '3');
    await page.locator('tr[data-queue=batch] button[type=submit]').click();
    await page.locator('tr[data-queue=batch] td:nth-child(3)', { hasText: '3' }).waitFor();
    expect((await server.gql<any>('{ queue(name: "batch") { concurrency paused } }', {}, admin)).data.queue).toEqual({ concurrency: 3, paused: true });
    await shot(page, 'queues-paused');
    await page.locator('tr[data-queue=batch] button', { hasText: 'Resume' }).click();
    await page.locator('tr[data-queue=batch] [data-paused=false]').waitFor();
    await view(page, 'submit');
    await page.waitForSelector(`[data-submitted-job="${heldId}"] [data-status=SUCCEEDED]`);

    // Bulk (submitJobs), and a calc file sent as an upload whose progress is shown.
    await page.fill('input[name=count]', '3');
    await page.fill('input[name=simulations]', '1000');
    await page.selectOption('select[name=queue]', 'default');
    const listed = await page.locator('[data-submitted-job]').count();
    await page.click('form button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-submitted-job]').length === n + 3, listed);
    await page.click('[data-kind=CALC]');
    await page.setInputFiles('input[name=file]', { name: 'operations.txt', mimeType: 'text/plain', buffer: Buffer.from('1 + 2\n2 ^ 10\nimport sys\n') });
    await page.click('form button[type=submit]');
    await page.locator('[data-upload="100"]').waitFor();
    const calcId = (await page.locator('[data-submitted-job]').first().getAttribute('data-submitted-job'))!;
    await page.waitForSelector(`[data-submitted-job="${calcId}"] [data-status=SUCCEEDED]`);
    const calc = await server.gql<any>('query($id: ID!) { job(id: $id) { kind result { ... on CalcBatchResult { count errors } } } }', { id: calcId }, admin);
    expect(calc.data.job).toEqual({ kind: 'CALC', result: { count: 3, errors: 1 } });
    await shot(page, 'submit-calc');

    // Analytics: a bar per state (all of them), the best and worst five marked, the national mean drawn.
    const question = 'Percent of adults aged 18 years and older who have obesity';
    const expected = await server.gql<any>('query($q: String!) { analytics { statesMean(question: $q) { state } best5(question: $q) { state } } }', { q: question }, admin);
    await view(page, 'analytics');
    await page.selectOption('select[name=question]', question);
    await page.click('form button[type=submit]');
    const chart = page.locator('.chart[data-states]');
    await chart.locator('canvas').waitFor();
    expect(Number(await chart.getAttribute('data-states'))).toBe(expected.data.analytics.statesMean.length);
    expect((await chart.getAttribute('data-best'))!.split('|').sort()).toEqual(expected.data.analytics.best5.map((s: any) => s.state).sort());
    expect(await page.locator('.u-legend').innerText()).toContain('national mean');
    await shot(page, 'analytics');

    // Workers: the pool and a live chart of finished jobs.
    await view(page, 'workers');
    await page.waitForFunction(() => Number(document.querySelector('.chart')?.getAttribute('data-samples')) >= 2);
    expect(await page.locator('[data-stat=size] strong').innerText()).toBe('2');
    await page.locator('.chart canvas').waitFor();
    await shot(page, 'workers');

    // Quotes: at least two arrive over the stream.
    await view(page, 'quotes');
    await page.waitForFunction(() => Number(document.querySelector('[data-received]')?.getAttribute('data-received')) >= 2, undefined, { timeout: 10_000 });
    expect(await page.locator('.ticker .quote').count()).toBeGreaterThanOrEqual(2);
    await shot(page, 'quotes');

    // Logins: an attempt elsewhere shows up live.
    const listening = server.nextSubscriptions('loginEvents');
    await view(page, 'logins');
    await listening;
    await server.gql('mutation { login(username: "dashboard-ghost", password: "not-the-password") { token } }');
    await page.locator('tr[data-login=dashboard-ghost]').waitFor();
    await shot(page, 'logins');
    await page.close();
    expect(offsite).toEqual([]);
  }, 30_000);

  test('a USER sees only their own jobs and only the views the API lets them use', async () => {
    const alice = await server.userWithRole('USER', 'dash-alice');
    const bob = await server.userWithRole('USER', 'dash-bob');
    for (const { token } of [alice, bob, alice]) await server.gql('mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, token);
    const page = await openPage();
    await signIn(page, 'dash-alice', 'dash-alice-password');
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Jobs', 'Queues', 'Submit', 'Analytics', 'Quotes']);
    await page.waitForSelector('tr[data-job]');
    const owners = await page.locator('tr[data-job] td:nth-child(4)').allInnerTexts();
    expect(owners).toEqual(['dash-alice', 'dash-alice']);
    expect(await page.locator('[data-total]').getAttribute('data-total')).toBe('2');
    expect(await page.locator('select[name=owner], input[name=owner]').count()).toBe(0);
    await shot(page, 'user-jobs');
    await view(page, 'queues');
    await page.waitForSelector('tr[data-queue=default]');
    expect(await page.locator('tr[data-queue] button').count()).toBe(0);
    // The address of an admin view leads back to one the USER has.
    await page.goto(`${origin}/dashboard#/logins`);
    await page.waitForSelector('[data-current-view=jobs]');
    await page.close();
    expect(offsite).toEqual([]);
  }, 20_000);

  test('a SECRETARY (read-only) sees every job and queue, with no action buttons, and the views the API lets them read', async () => {
    const carol = await server.userWithRole('USER', 'dash-carol');
    const dave = await server.userWithRole('USER', 'dash-dave');
    for (const { token } of [carol, dave]) await server.gql('mutation { submitPiJob(input: { simulations: 1000, maxAttempts: 1 }) { id } }', {}, token);
    await server.userWithRole('SECRETARY', 'dash-sec');
    const page = await openPage();
    await signIn(page, 'dash-sec', 'dash-sec-password');
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Jobs', 'Queues', 'Analytics', 'Quotes']);
    await page.waitForSelector('tr[data-job]');
    const owners = new Set(await page.locator('tr[data-job] td:nth-child(4)').allInnerTexts());
    expect(owners.has('dash-carol') && owners.has('dash-dave')).toBe(true);
    expect(await page.locator('td.actions button').count()).toBe(0);
    expect(await page.locator('input[name=owner]').count()).toBe(1);
    await view(page, 'queues');
    await page.waitForSelector('tr[data-queue=default]');
    expect(await page.locator('tr[data-queue] button').count()).toBe(0);
    await shot(page, 'secretary-queues');
    await page.close();
    expect(offsite).toEqual([]);
  }, 20_000);
});
