// The dashboard's actions in a real browser (test/helpers/dashboard.ts): bulk Cancel, Retry and Delete on 100 jobs,
// a delayed job, dead letters retried filter-wide, a schedule, queue limits, and an admin managing users and logins.
// Skipped, saying so, only where no Chromium is installed. The views and roles: test/dashboard-browser.test.ts.
import { beforeAll, describe, expect, test } from 'bun:test';
import { CHROMIUM, dashboardInChromium } from './helpers/dashboard';
import { ADMIN_PASSWORD, type TestServer } from './helpers/server';

if (!CHROMIUM) console.warn('dashboard actions test skipped: no Chromium (install Debian\'s `chromium`, or set CHROMIUM_PATH)');

describe.skipIf(!CHROMIUM)('the dashboard’s actions in Chromium', () => {
  const dash = dashboardInChromium({});
  const { offsite, openPage, signIn, shot, view, axeViolations } = dash;
  let server: TestServer;
  beforeAll(() => {
    ({ server } = dash);
  });

  test('search, then Cancel, Retry and Delete on 100 selected jobs, each confirmed with how many', async () => {
    const admin = await server.adminToken();
    await server.gql('mutation { createQueue(input: { name: "bulk100" }) { name } }', {}, admin);
    await server.gql('mutation { pauseQueue(name: "bulk100") { name } }', {}, admin);
    const jobs = Array.from({ length: 100 }, () => ({ pi: { simulations: 1000 } }));
    const submitted = await server.gql<any>('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "bulk100" }) { id } }', { jobs }, admin);
    const ids: string[] = submitted.data.submitJobs.map((job: any) => job.id);
    const counts = async () => (await server.gql<any>('{ jobCounts(queue: "bulk100") { queued cancelled } }', {}, admin)).data.jobCounts;

    const page = await openPage({ width: 390, height: 844 });
    await signIn(page, 'admin', ADMIN_PASSWORD);
    // Search by id: one row.
    await page.fill('input[name=search]', `#${ids[7]}`);
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
  }, 45_000);

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
  }, 30_000);
});
