// The dashboard in a real browser: Debian's Chromium through playwright-core (as .ci/browser-check.ts drives
// GraphiQL). Skipped, saying so, only where no Chromium is installed; CI installs it before `bun test`.
// Screenshots go to test-output/dashboard/ (git-ignored).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { BUNDLED_ANALYTICS_CSV } from '../src/config';
import { CHROMIUM, launchChromium } from './helpers/chromium';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './helpers/server';

// Screenshots are for a person to look at (no test compares them), so they are taken on request only,
// DASHBOARD_SCREENSHOTS=1: the ~60 full-page captures were ~5 s of the file's ~40 s of CPU (Chromium and this process).
const SCREENSHOTS = process.env.DASHBOARD_SCREENSHOTS === '1' ? join(import.meta.dir, '..', 'test-output', 'dashboard') : null;
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const VIEWPORTS = [
  { name: 'wide', width: 1366, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;
if (!CHROMIUM) console.warn('dashboard browser test skipped: no Chromium (install Debian\'s `chromium`, or set CHROMIUM_PATH)');

describe.skipIf(!CHROMIUM)('the dashboard in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let origin: string;
  const offsite: string[] = [];

  beforeAll(async () => {
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
    [server, browser] = await Promise.all([
      // The real CDC file: the chart shows every state and territory.
      startTestServer({ ANALYTICS_CSV: BUNDLED_ANALYTICS_CSV }),
      launchChromium(),
    ]);
    origin = new URL(server.url).origin;
    // A liveness bound: Chromium's start took over 20 s with two suites beside this one (load ~28).
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function openPage(viewport: { width: number; height: number } = { width: 1360, height: 900 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
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

  const shot = async (page: Page, name: string) => {
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  };
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
    // A paused queue that runs one job at a time: the π job waits (QUEUED) until the page listens. (A queue kept busy
    // by an 800 ms job instead let the π job run and finish before the page's subscription began, on a loaded machine.)
    await server.gql('mutation { createQueue(input: { name: "lifecycle", concurrency: 1 }) { name } }', {}, admin);
    await server.gql('mutation { pauseQueue(name: "lifecycle") { name } }', {}, admin);
    await server.gql('mutation { createQueue(input: { name: "batch" }) { name } }', {}, admin);
    const page = await openPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Jobs', 'Flows', 'Queues', 'Schedules', 'Workers', 'Submit', 'Analytics', 'Quotes', 'Users', 'Logins']);

    // QUEUED → RUNNING → SUCCEEDED, seen by the page without a reload.
    await server.gql('mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 100, queue: "lifecycle" }, count: 1) { id } }', {}, admin);
    const watched = server.nextSubscriptions('jobUpdated');
    const piId = await submitPi(page, 'lifecycle', 50_000_000);
    await watched;
    expect(await trailOf(page, piId)).toBe('QUEUED');
    await server.gql('mutation { resumeQueue(name: "lifecycle") { name } }', {}, admin);
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
    await page.selectOption('tr[data-queue=batch] select[name=order]', 'FAIR');
    await page.fill('tr[data-queue=batch] input[name=ownerConcurrency]', '2');
    await page.locator('tr[data-queue=batch] button[type=submit]').click();
    await page.locator('tr[data-queue=batch] td:nth-child(3)', { hasText: '3' }).waitFor();
    await page.locator('tr[data-queue=batch] td[data-order=FAIR]', { hasText: '2 per owner' }).waitFor();
    // The held job's owner shows in the row's per-owner counts (1 waiting, 0 running).
    await page.locator('tr[data-queue=batch] td.owners', { hasText: '1 / 0' }).waitFor();
    expect((await server.gql<any>('{ queue(name: "batch") { concurrency paused order ownerConcurrency } }', {}, admin)).data.queue).toEqual({
      concurrency: 3,
      paused: true,
      order: 'FAIR',
      ownerConcurrency: 2,
    });
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
    const beforeCalc = await page.locator('[data-submitted-job]').count();
    await page.click('form button[type=submit]');
    await page.locator('[data-upload="100"]').waitFor();
    // The upload's 100 % comes before its answer: the calc job is listed (first) once the answer is in.
    await page.waitForFunction((n) => document.querySelectorAll('[data-submitted-job]').length === n + 1, beforeCalc);
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
  }, 60_000);

  test('the job list shows a job submitted elsewhere as it is queued, without a Refresh (jobEvents)', async () => {
    const admin = await server.adminToken();
    const page = await openPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await view(page, 'jobs');
    await page.waitForSelector('[data-total]');
    // Submitted through the API, not this page: only the page's jobEvents subscription can bring it (it starts from
    // the newest job's last event, so a submission before it listens is replayed, not lost).
    const elsewhere = (await server.gql<any>('mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, admin)).data.submitPiJob.id;
    await page.locator(`tr[data-job="${elsewhere}"]`).waitFor({ timeout: 15_000 });
    await page.close();
  }, 60_000);

  test('a USER sees only their own jobs and only the views the API lets them use', async () => {
    const alice = await server.userWithRole('USER', 'dash-alice');
    const bob = await server.userWithRole('USER', 'dash-bob');
    for (const { token } of [alice, bob, alice]) await server.gql('mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, token);
    const page = await openPage({ width: 390, height: 844 });
    await signIn(page, 'dash-alice', 'dash-alice-password');
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Jobs', 'Flows', 'Queues', 'Submit', 'Analytics', 'Quotes']);
    await page.waitForSelector('tr[data-job]');
    const owners = await page.locator('tr[data-job] td[data-owner]').allInnerTexts();
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
  }, 60_000);

  test('a SECRETARY (read-only) sees every job and queue, with no action buttons, and the views the API lets them read', async () => {
    const carol = await server.userWithRole('USER', 'dash-carol');
    const dave = await server.userWithRole('USER', 'dash-dave');
    for (const { token } of [carol, dave]) await server.gql('mutation { submitPiJob(input: { simulations: 1000, maxAttempts: 1 }) { id } }', {}, token);
    await server.userWithRole('SECRETARY', 'dash-sec');
    const page = await openPage();
    await signIn(page, 'dash-sec', 'dash-sec-password');
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Jobs', 'Flows', 'Queues', 'Schedules', 'Analytics', 'Quotes']);
    await page.waitForSelector('tr[data-job]');
    const owners = new Set(await page.locator('tr[data-job] td[data-owner]').allInnerTexts());
    expect(owners.has('dash-carol') && owners.has('dash-dave')).toBe(true);
    expect(await page.locator('td.actions button').count()).toBe(0);
    expect(await page.locator('input[name=owner]').count()).toBe(1);
    await view(page, 'queues');
    await page.waitForSelector('tr[data-queue=default]');
    expect(await page.locator('tr[data-queue] button').count()).toBe(0);
    await shot(page, 'secretary-queues');
    await page.close();
    expect(offsite).toEqual([]);
  }, 60_000);

  /** Serious and critical axe-core violations on the page as it is now (axe's source evaluated in the page). */
  async function axeViolations(page: Page): Promise<string[]> {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
    return page.evaluate(async () => {
      const { violations } = await (window as any).axe.run(document, { resultTypes: ['violations'] });
      return violations
        .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
        .map((v: any) => `${v.id}: ${v.nodes.slice(0, 3).map((n: any) => n.target.join(' ')).join(', ')}`);
    });
  }

  test('every view at 1366 and 390 px, light and dark: no sideways page scroll, 0 serious or critical axe violations', async () => {
    const page = await openPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    const routes = await page.locator('nav a').evaluateAll((links) => links.map((a) => a.getAttribute('data-view')!));
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const viewport of VIEWPORTS) {
        await page.setViewportSize(viewport);
        for (const route of routes) {
          await view(page, route);
          await page.waitForLoadState('networkidle').catch(() => {});
          const [scrollWidth, innerWidth] = await page.evaluate((): number[] => [document.documentElement.scrollWidth, window.innerWidth]);
          if (scrollWidth! > innerWidth!) {
            const wide = await page.evaluate((width) => [...document.querySelectorAll("main *")].filter((e) => e.getBoundingClientRect().right > width + 1).slice(0, 4).map((e) => `${e.tagName}.${e.className}`), innerWidth!);
            problems.push(`${route} ${viewport.name} ${scheme}: the page is ${scrollWidth} px wide in a ${innerWidth} px window (${wide.join(" ")})`);
          }
          for (const violation of await axeViolations(page)) problems.push(`${route} ${viewport.name} ${scheme}: ${violation}`);
          await shot(page, `${route}-${viewport.name}-${scheme}`);
        }
      }
    }
    expect(problems).toEqual([]);

    // The toggle overrides the system's choice, and the choice is remembered.
    await page.emulateMedia({ colorScheme: 'light' });
    await page.click('[data-theme-toggle]');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.reload();
    await page.waitForSelector('[data-current-view]');
    expect(await page.evaluate(() => [document.documentElement.dataset.theme, getComputedStyle(document.documentElement).backgroundColor])).toEqual(['dark', 'rgb(11, 17, 32)']);
    await page.click('[data-theme-toggle]');
    await page.close();
    expect(offsite).toEqual([]);
  }, 120_000);

  test('search, then Cancel, Retry and Delete on 100 selected jobs, each confirmed with how many', async () => {
    const admin = await server.adminToken();
    await server.gql('mutation { createQueue(input: { name: "bulk100" }) { name } }', {}, admin);
    await server.gql('mutation { pauseQueue(name: "bulk100") { name } }', {}, admin);
    await server.gql('mutation { createQueue(input: { name: "typed-meanwhile" }) { name } }', {}, admin);
    await server.gql('mutation { pauseQueue(name: "typed-meanwhile") { name } }', {}, admin);
    const jobs = Array.from({ length: 100 }, () => ({ pi: { simulations: 1000 } }));
    const submitted = await server.gql<any>('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "bulk100" }) { id } }', { jobs }, admin);
    const ids: string[] = submitted.data.submitJobs.map((job: any) => job.id);
    const counts = async () => (await server.gql<any>('{ jobCounts(queue: "bulk100") { queued cancelled } }', {}, admin)).data.jobCounts;

    const page = await openPage({ width: 390, height: 844 });
    await signIn(page, 'admin', ADMIN_PASSWORD);
    // Search by id: one row. What is typed survives the list's live updates until Enter: a job queued meanwhile
    // redraws the list (on a loaded machine the 100 above arrived after sign-in and wiped the text before).
    await page.waitForSelector(`tr[data-job="${ids[99]}"]`);
    await page.fill('input[name=search]', `#${ids[7]}`);
    const late = await server.gql<any>('mutation { submitJobs(jobs: [{ pi: { simulations: 1000 } }], options: { queue: "typed-meanwhile" }) { id } }', {}, admin);
    await page.waitForSelector(`tr[data-job="${late.data.submitJobs[0].id}"]`);
    expect(await page.inputValue('input[name=search]')).toBe(`#${ids[7]}`);
    await page.press('input[name=search]', 'Enter');
    await page.waitForFunction((id) => document.querySelectorAll('tr[data-job]').length === 1 && document.querySelector(`tr[data-job="${id}"]`), ids[7]);
    // By queue name, 100 to a page.
    await page.fill('input[name=search]', 'bulk100');
    await page.press('input[name=search]', 'Enter');
    await page.selectOption('select[name=pageSize]', '100');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-job]').length === 100);
    expect(await page.locator('[data-total]').getAttribute('data-total')).toBe('100');

    const bulk = async (action: string, expected: string) => {
      await page.locator('[data-select-all]').check();
      await page.locator('[data-selected="100"]').waitFor();
      await page.click(`[data-bulk=${action}]`);
      const dialog = page.locator('dialog[data-confirm]');
      expect(await dialog.innerText()).toContain(expected);
      await dialog.locator('[data-confirm-action]').click();
      await page.locator('[data-bulk-outcome="100/100"]').waitFor({ timeout: 20_000 });
    };
    await bulk('cancel', 'Cancel 100 jobs?');
    expect(await counts()).toEqual({ queued: 0, cancelled: 100 });
    await page.waitForFunction(() => document.querySelectorAll('tr[data-job] [data-status=CANCELLED]').length === 100);
    await shot(page, 'bulk-cancelled-phone');
    await bulk('retry', 'Retry 100 jobs?');
    expect(await counts()).toEqual({ queued: 100, cancelled: 0 });
    await page.waitForFunction(() => document.querySelectorAll('tr[data-job] [data-status=QUEUED]').length === 100);
    await bulk('delete', 'Delete 100 jobs?');
    expect(await counts()).toEqual({ queued: 0, cancelled: 0 });
    // The empty list says what to do.
    expect(await page.locator('[data-empty]').innerText()).toContain('No job matches');
    await page.close();
    expect(offsite).toEqual([]);
  }, 60_000);

  test('a delayed job shows its runAt, dead letters are retried filter-wide, a schedule is created and paused', async () => {
    const admin = await server.adminToken();
    await server.gql('mutation { createQueue(input: { name: "dead" }) { name } }', {}, admin);
    // Dead letters in "dead": 3 FAILED (a throwing job, one attempt) and 2 CANCELLED (delayed jobs cancelled).
    await server.gql('mutation { submitDiagnosticJobs(input: { behavior: THROW, queue: "dead", maxAttempts: 1 }, count: 3) { id } }', {}, admin);
    const delayed = await server.gql<any>('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "dead", delayMs: 3600000 }) { id } }', { jobs: Array.from({ length: 2 }, () => ({ pi: { simulations: 1000 } })) }, admin);
    await server.gql('mutation($ids: [ID!]) { cancelJobs(filter: { ids: $ids }) }', { ids: delayed.data.submitJobs.map((job: any) => job.id) }, admin);
    for (let failed = 0; failed < 3; await Bun.sleep(50)) failed = (await server.gql<any>('{ jobCounts(queue: "dead") { failed } }', {}, admin)).data.jobCounts.failed;

    const page = await openPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    // Submitted from the form an hour ahead, with an idempotency key: its row says until when, its detail shows both.
    await view(page, 'submit');
    await page.fill('input[name=simulations]', '1000');
    await page.selectOption('select[name=queue]', 'dead');
    await page.fill('input[name=delaySeconds]', '3600');
    await page.fill('input[name=idempotencyKey]', 'console-once');
    await page.click('form button[type=submit]');
    await page.locator('[data-submitted-job]').first().waitFor();
    const laterId = (await page.locator('[data-submitted-job]').first().getAttribute('data-submitted-job'))!;
    const later = (await server.gql<any>('query($id: ID!) { job(id: $id) { status runAt idempotencyKey } }', { id: laterId }, admin)).data.job;
    expect(later.idempotencyKey).toBe('console-once');
    expect(Date.parse(later.runAt) - Date.now()).toBeGreaterThan(50 * 60_000);
    await view(page, 'jobs');
    const row = page.locator(`tr[data-job="${laterId}"]`);
    expect(await row.locator('[data-delayed]').getAttribute('data-delayed')).toBe(later.runAt);
    await row.locator('button.link').click();
    expect(await page.locator('.job-detail [data-run-at]').getAttribute('data-run-at')).toBe(later.runAt);
    expect(await page.locator('.job-detail [data-idempotency-key]').innerText()).toBe('console-once');
    await shot(page, 'jobs-delayed');

    // The dead letters of "dead": all 5 retried in one request, the confirmation saying how many.
    await page.selectOption('select[name=queue]', 'dead');
    await page.selectOption('select[name=status]', 'DEAD_LETTERS');
    await page.waitForFunction(() => document.querySelector('[data-total]')?.getAttribute('data-total') === '5' && document.querySelectorAll('tr[data-job]').length === 5);
    expect(new Set(await page.locator('tr[data-job] [data-status]').evaluateAll((badges) => badges.map((b) => b.getAttribute('data-status'))))).toEqual(new Set(['FAILED', 'CANCELLED']));
    await page.click('[data-bulk-filter=retry]');
    const dialog = page.locator('dialog[data-confirm]');
    expect(await dialog.innerText()).toContain('Retry all 5 jobs matching this filter');
    await shot(page, 'dead-letters-confirm');
    await dialog.locator('[data-confirm-action]').click();
    await page.locator('[data-bulk-outcome="5/5"]').waitFor();
    const retried = await server.gql<any>('{ jobs(queue: "dead", first: 100) { edges { node { id events { type } } } } }', {}, admin);
    const withRetry = retried.data.jobs.edges.filter(({ node }: any) => node.events.some((e: any) => e.type === 'retried'));
    expect(withRetry).toHaveLength(5);
    // The delayed job was neither cancelled nor retried.
    expect((await server.gql<any>('query($id: ID!) { job(id: $id) { status } }', { id: laterId }, admin)).data.job.status).toBe('QUEUED');

    // A schedule created, then paused, from the Schedules view.
    await view(page, 'schedules');
    const form = page.locator('form[data-schedule-form]');
    await form.locator('input[name=name]').fill('console-nightly');
    await form.locator('input[name=cron]').fill('0 3 * * *');
    await form.locator('input[name=timezone]').fill('Europe/Paris');
    await form.locator('select[name=overlap]').selectOption('SKIP');
    await form.locator('select[name=queue]').selectOption('dead');
    await form.locator('textarea[name=input]').fill('{ "simulations": 5000 }');
    await form.locator('button[type=submit]').click();
    const scheduleRow = page.locator('tr[data-schedule=console-nightly]');
    await scheduleRow.locator('[data-paused=false]').waitFor();
    expect(await scheduleRow.locator('[data-next-run]').getAttribute('data-next-run')).not.toBe('');
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, 'schedules');
    await scheduleRow.locator('[data-schedule-toggle]').click();
    await scheduleRow.locator('[data-paused=true]').waitFor();
    const schedule = (await server.gql<any>('{ schedule(name: "console-nightly") { paused overlap timezone queue cron nextRunAt } }', {}, admin)).data.schedule;
    expect(schedule).toEqual({ paused: true, overlap: 'SKIP', timezone: 'Europe/Paris', queue: 'dead', cron: '0 3 * * *', nextRunAt: null });
    await shot(page, 'schedules-paused');

    // An admin sets the queue's rate limit and retention in its Edit form, then removes the limit.
    await view(page, 'queues');
    const edit = async (fields: Record<string, string>) => {
      await page.locator('tr[data-queue=dead] button', { hasText: 'Edit' }).click();
      for (const [name, value] of Object.entries(fields)) await page.fill(`tr[data-queue=dead] input[name=${name}]`, value);
      await page.locator('tr[data-queue=dead] button[type=submit]').click();
    };
    await edit({ rateJobs: '10', ratePerSeconds: '60', failedSeconds: '604800' });
    await page.locator('tr[data-queue=dead] [data-rate-limit="10/60"]').waitFor();
    expect(await page.locator('tr[data-queue=dead] [data-retention]').innerText()).toBe('keeps failed 7 d');
    const limits = '{ queue(name: "dead") { rateLimit { jobs perSeconds } retention { succeededSeconds failedSeconds cancelledSeconds } } }';
    expect((await server.gql<any>(limits, {}, admin)).data.queue).toEqual({ rateLimit: { jobs: 10, perSeconds: 60 }, retention: { succeededSeconds: null, failedSeconds: 604800, cancelledSeconds: null } });
    await shot(page, 'queues-limits');
    await edit({ rateJobs: '', ratePerSeconds: '' });
    await page.locator('tr[data-queue=dead] [data-rate-limit=""]').waitFor();
    expect((await server.gql<any>(limits, {}, admin)).data.queue.rateLimit).toBeNull();
    await page.close();
    expect(offsite).toEqual([]);
  }, 60_000);

  test('an admin creates a user, changes their role, disables them, unlocks a username and reads the login history', async () => {
    const admin = await server.adminToken();
    const page = await openPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await view(page, 'users');
    const form = page.locator('form[aria-label="Create a user"]');
    await form.locator('input[name=username]').fill('console-erin');
    await form.locator('input[name=password]').fill('console-erin-password');
    await form.locator('select[name=role]').selectOption('MANAGER');
    await form.locator('button[type=submit]').click();
    const row = page.locator('tr[data-user=console-erin]');
    await row.waitFor();
    expect(await row.locator('select[name=role]').inputValue()).toBe('MANAGER');
    await server.login('console-erin', 'console-erin-password');
    await row.locator('select[name=role]').selectOption('USER');
    await page.locator('[data-notice]', { hasText: 'console-erin is now USER' }).waitFor();
    await row.locator('[data-toggle-disabled]').click();
    await row.locator('[data-disabled=true]').waitFor();
    const refused = await server.gql<any>('mutation { login(username: "console-erin", password: "console-erin-password") { token } }');
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await server.gql<any>('{ users(first: 100) { edges { node { username role disabled } } } }', {}, admin)).data.users.edges.map((e: any) => e.node).find((u: any) => u.username === 'console-erin')).toEqual({ username: 'console-erin', role: 'USER', disabled: true });
    await shot(page, 'users-wide');

    // Five wrong passwords lock a username; the admin ends that from the Users view.
    for (let i = 0; i < 6; i++) await server.gql('mutation { login(username: "admin", password: "wrong-password!") { token } }');
    expect((await server.gql<any>(`mutation { login(username: "admin", password: "${ADMIN_PASSWORD}") { token } }`)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    await page.fill('form[aria-label="Unlock a username"] input[name=username]', 'admin');
    await page.click('[data-unlock]');
    await page.locator('[data-notice]', { hasText: 'admin may try' }).waitFor();
    expect(await server.login('admin', ADMIN_PASSWORD)).toBeString();

    // The history shows the refusals, filtered.
    await view(page, 'logins');
    const filters = page.locator('form[aria-label="Filter the login history"]');
    await filters.locator('input[name=username]').fill('admin');
    await filters.locator('select[name=success]').selectOption('false');
    await filters.locator('button[type=submit]').click();
    // The filtered answer replaces the unfiltered rows: wait for it (only admin's rows, a throttled one among them).
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('tr[data-history]')];
      return rows.some((tr) => tr.textContent!.includes('throttled')) && rows.every((tr) => tr.querySelector('td:nth-child(2)')?.textContent === 'admin');
    });
    expect(new Set(await page.locator('tr[data-history] td:nth-child(2)').allInnerTexts())).toEqual(new Set(['admin']));
    await shot(page, 'logins-history');
    await page.close();
    expect(offsite).toEqual([]);
  }, 60_000);
});
