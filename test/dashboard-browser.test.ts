// The dashboard in a real browser (test/helpers/dashboard.ts): sign-in, live jobs, queues, the views each role sees,
// and every view at two widths in light and dark under axe-core. Skipped, saying so, only where no Chromium is
// installed; CI installs it before `bun test`. The bulk actions, dead letters, schedules and users:
// test/dashboard-actions.test.ts.
import { beforeAll, describe, expect, test } from 'bun:test';
import type { Page } from 'playwright-core';
import { BUNDLED_ANALYTICS_CSV } from '../src/config';
import { CHROMIUM, dashboardInChromium } from './helpers/dashboard';
import { ADMIN_PASSWORD, type TestServer } from './helpers/server';

const VIEWPORTS = [
  { name: 'wide', width: 1366, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;
if (!CHROMIUM) console.warn('dashboard browser test skipped: no Chromium (install Debian\'s `chromium`, or set CHROMIUM_PATH)');

describe.skipIf(!CHROMIUM)('the dashboard in Chromium', () => {
  // The real CDC file: the chart shows every state and territory.
  const dash = dashboardInChromium({ ANALYTICS_CSV: BUNDLED_ANALYTICS_CSV });
  const { offsite, openPage, signIn, shot, view, axeViolations } = dash;
  let server: TestServer;
  let origin: string;
  beforeAll(() => {
    ({ server, origin } = dash);
  });

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
    await signIn(page, 'admin', ADMIN_PASSWORD, 'sign-in');
    expect(await page.locator('nav a').allInnerTexts()).toEqual(['Jobs', 'Flows', 'Queues', 'Schedules', 'Workers', 'Submit', 'Analytics', 'Quotes', 'Users', 'Logins']);

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
  }, 30_000);

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
  }, 30_000);

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
  }, 20_000);

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
  }, 20_000);

  // Every view at each width in each colour scheme: four pages at once (one test each), each signed in on its own.
  for (const scheme of ['light', 'dark'] as const) {
    for (const viewport of VIEWPORTS) {
      test.concurrent(`every view at ${viewport.width} px, ${scheme}: no sideways page scroll, 0 serious or critical axe violations`, async () => {
        const page = await openPage(viewport);
        await page.emulateMedia({ colorScheme: scheme });
        await signIn(page, 'admin', ADMIN_PASSWORD);
        const routes = await page.locator('nav a').evaluateAll((links) => links.map((a) => a.getAttribute('data-view')!));
        expect(routes).toHaveLength(10);
        const problems: string[] = [];
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
        expect(problems).toEqual([]);
        await page.close();
        expect(offsite).toEqual([]);
      }, 120_000);
    }
  }

  test('the theme toggle overrides the system’s choice, and the choice is remembered', async () => {
    const page = await openPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.click('[data-theme-toggle]');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.reload();
    await page.waitForSelector('[data-current-view]');
    expect(await page.evaluate(() => [document.documentElement.dataset.theme, getComputedStyle(document.documentElement).backgroundColor])).toEqual(['dark', 'rgb(11, 17, 32)']);
    await page.click('[data-theme-toggle]');
    await page.close();
    expect(offsite).toEqual([]);
  }, 30_000);
});
