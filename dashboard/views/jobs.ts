// Jobs: search and filters, pages with totals, each row live (status, progress, duration), the actions the role
// allows on one row or on the rows selected, and one job's input, result and history.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type ApiError, gql, type Me } from '../api';
import { followJobEvents } from '../job-events';
import { BULK_ACTIONS, type BulkAction, type BulkOutcome, type BulkTarget, type JobFilter, runBulk, statesTaken } from '../bulk';
import { Confirm, DateTime, Empty, ErrorLine, html, isDelayed, isFinal, type JobStatus, TableBox, JOB_FIELDS, JOB_KINDS, JOB_STATUSES, type JobRow, jobDuration, ProgressBar, progressOf, StatusBadge, usePolled, useLiveJob, useTicker } from '../ui';

const PAGE_SIZES = [20, 50, 100];
/** Counts the list's reads (see the rows' keys). */
let reads = 0;

interface Page {
  jobs: { totalCount: number; edges: { node: JobRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const JOBS_QUERY = `query Jobs($first: Int, $after: String, $status: JobStatus, $statuses: [JobStatus!], $kind: JobKind, $queue: String, $owner: ID, $search: String) {
  jobs(first: $first, after: $after, status: $status, statuses: $statuses, kind: $kind, queue: $queue, owner: $owner, search: $search) {
    totalCount edges { node { ${JOB_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;

const RESULT_FIELDS = `result {
  __typename
  ... on PiEstimate { pi simulations concurrency seconds }
  ... on Forecast { seed forecasts { asset value weight } }
  ... on CalcBatchResult { count errors results(offset: 0, limit: 20) { line expression value error } }
  ... on AnalyticsResult { query question state data }
  ... on DiagnosticResult { behavior elapsedMs }
}`;

/** The Status filter's "Dead letters" choice: the jobs that ended without succeeding, which Retry redrives. */
const DEAD_LETTERS = 'DEAD_LETTERS';
const DEAD_LETTER_STATUSES: JobStatus[] = ['FAILED', 'CANCELLED'];

/** An action on every job the filter matches, with how many of them it takes (counted when it was chosen). */
interface FilterAction {
  action: BulkAction;
  count: number;
  target: BulkTarget;
}

interface Filters {
  search: string;
  queue: string;
  status: string;
  kind: string;
  owner: string;
}

/** `#/jobs/42` (a flow's node links here): that job, searched and opened. */
const linkedJob = () => /^#\/jobs\/(\d+)$/.exec(location.hash)?.[1] ?? null;

export function JobsView({ me }: { me: Me }) {
  const [filters, setFilters] = useState<Filters>({ search: linkedJob() ? `#${linkedJob()}` : '', queue: '', status: '', kind: '', owner: '' });
  // What is typed in the text fields until it is applied: a live redraw (a job queued anywhere) sets an input back to
  // its value, so an input bound to the applied filter lost the text being typed.
  const [drafts, setDrafts] = useState({ search: filters.search, owner: filters.owner });
  const draft = (name: 'search' | 'owner') => (event: Event) => setDrafts({ ...drafts, [name]: (event.target as HTMLInputElement).value });
  // Rows ticked for a bulk action, with the status each had when read (which actions apply).
  const [checked, setChecked] = useState<Map<string, JobStatus>>(new Map());
  const [pending, setPending] = useState<BulkAction | null>(null);
  const [pendingFilter, setPendingFilter] = useState<FilterAction | null>(null);
  const [outcome, setOutcome] = useState<BulkOutcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [pageSize, setPageSize] = useState(PAGE_SIZES[0]!);
  // The cursors of the pages before this one: Previous pops one.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [selected, setSelected] = useState<string | null>(linkedJob());
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const after = cursors.at(-1) ?? null;
  const variables = {
    first: pageSize,
    after,
    status: filters.status && filters.status !== DEAD_LETTERS ? filters.status : null,
    statuses: filters.status === DEAD_LETTERS ? DEAD_LETTER_STATUSES : null,
    kind: filters.kind || null,
    queue: filters.queue || null,
    owner: filters.owner || null,
    search: filters.search.trim() || null,
  };
  const page = usePolled(() => gql<Page>(JOBS_QUERY, variables), 0, [JSON.stringify(variables)]);
  // On the first page, jobs submitted anywhere (another tab, the CLI, another instance) appear as they are queued.
  const firstPage = after === null;
  useEffect(() => {
    if (!firstPage) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = followJobEvents((event) => {
      if (event.type !== 'queued') return;
      // A burst of submissions is one read of the page.
      clearTimeout(timer);
      timer = setTimeout(page.reload, 300);
    });
    return () => (clearTimeout(timer), stop());
  }, [firstPage]);
  const queues = usePolled(() => gql<{ queues: { name: string }[] }>('{ queues { name } }'), 0);
  const users = usePolled(
    () => (me.role === 'ADMIN' ? gql<{ users: { edges: { node: { id: string; username: string } }[] } }>('{ users(first: 100) { edges { node { id username } } } }') : Promise.resolve(null)),
    0,
  );
  const setFilter = (name: keyof Filters) => (event: Event) => {
    setFilters({ ...filters, [name]: (event.target as HTMLSelectElement).value });
    setCursors([null]);
    setChecked(new Map());
  };
  const rows = page.data?.jobs.edges.map(({ node }) => node) ?? [];
  const toggle = (job: JobRow) => {
    const next = new Map(checked);
    if (next.has(job.id)) next.delete(job.id);
    else next.set(job.id, job.status);
    setChecked(next);
  };
  const allOnPage = rows.length > 0 && rows.every((job) => checked.has(job.id));
  const toggleAll = () => setChecked(allOnPage ? new Map() : new Map(rows.map((job) => [job.id, job.status])));
  const targets = (action: BulkAction) => [...checked].filter(([, status]) => action.applies(status)).map(([id]) => id);
  const runPending = async () => {
    const action = pending!;
    setBusy(true);
    setOutcome(await runBulk(action, { ids: targets(action) }));
    setBusy(false);
    setChecked(new Map());
    page.reload();
  };
  // The list's filters as a JobFilter (search text has none: the filter-wide actions wait for it to be cleared).
  const jobFilter: JobFilter = {
    ...(variables.queue ? { queue: variables.queue } : {}),
    ...(variables.status ? { status: variables.status as JobStatus } : {}),
    ...(variables.kind ? { kind: variables.kind } : {}),
    ...(variables.owner ? { ownerId: variables.owner } : {}),
  };
  const statuses = variables.statuses ?? undefined;
  /** Counts what `action` would take, then asks to confirm. */
  const chooseFilterAction = async (action: BulkAction) => {
    setOutcome(null);
    setActionError(null);
    // The states it takes among those listed: one totalCount over them (what runBulk's request will change now).
    const listed = jobFilter.status ? [jobFilter.status] : (statuses ?? action.takes);
    const wanted = action.takes.filter((state) => listed.includes(state));
    try {
      const { jobs } = await gql<{ jobs: { totalCount: number } }>(
        'query($statuses: [JobStatus!], $kind: JobKind, $queue: String, $owner: ID) { jobs(first: 0, statuses: $statuses, kind: $kind, queue: $queue, owner: $owner) { totalCount } }',
        { statuses: wanted, kind: variables.kind, queue: variables.queue, owner: variables.owner },
      );
      setPendingFilter({ action, count: jobs.totalCount, target: { filter: jobFilter, statuses } });
    } catch (error) {
      setActionError(error as ApiError);
    }
  };
  const runPendingFilter = async () => {
    const { action, target } = pendingFilter!;
    setBusy(true);
    setOutcome(await runBulk(action, target));
    setBusy(false);
    setChecked(new Map());
    page.reload();
  };
  const act = async (query: string, id: string, reload: boolean) => {
    setActionError(null);
    try {
      await gql(query, { id });
      if (reload) page.reload();
    } catch (error) {
      setActionError(error as ApiError);
    }
  };

  const readNumber = useMemo(() => ++reads, [page.data]);
  const canAct = me.role !== 'SECRETARY';
  const total = page.data?.jobs.totalCount ?? 0;
  const pageNumber = cursors.length;
  const select = (name: keyof Filters, label: string, options: string[]) =>
    html`<label>${label} <select name=${name} value=${filters[name]} onChange=${setFilter(name)}><option value="">all</option>${options.map((o) => html`<option value=${o}>${o}</option>`)}</select></label>`;
  const searchForm = (event: Event) => {
    event.preventDefault();
    const text = new FormData(event.target as HTMLFormElement).get('search');
    setFilters({ ...filters, search: String(text ?? '') });
    setCursors([null]);
    setChecked(new Map());
  };
  const filtered = Object.values(filters).some(Boolean);
  return html`<section>
    <h2>Jobs</h2>
    <form class="filters" role="search" onSubmit=${searchForm}>
      <label class="wide">Search <input type="search" name="search" value=${drafts.search} onInput=${draft('search')} placeholder="id, owner, queue, kind, status or text in the input" /></label>
      <button type="submit">Search</button>
      ${select('queue', 'Queue', queues.data?.queues.map((q) => q.name) ?? [])}
      <label>Status <select name="status" value=${filters.status} onChange=${setFilter('status')}><option value="">all</option>${JOB_STATUSES.map((o) => html`<option value=${o}>${o}</option>`)}<option value=${DEAD_LETTERS}>dead letters (failed + cancelled)</option></select></label>
      ${select('kind', 'Kind', JOB_KINDS)}
      ${me.role === 'ADMIN'
        ? html`<label>Owner <select name="owner" value=${filters.owner} onChange=${setFilter('owner')}><option value="">all</option>${(users.data?.users.edges ?? []).map(
            ({ node }) => html`<option value=${node.id}>${node.username}</option>`,
          )}</select></label>`
        : me.role === 'MANAGER' || me.role === 'SECRETARY'
          ? html`<label>Owner id <input name="owner" size="4" value=${drafts.owner} onInput=${draft('owner')} onChange=${setFilter('owner')} /></label>`
          : null}
      <label>Per page <select name="pageSize" value=${pageSize} onChange=${(e: Event) => (setPageSize(Number((e.target as HTMLSelectElement).value)), setCursors([null]))}>${PAGE_SIZES.map((n) => html`<option value=${n}>${n}</option>`)}</select></label>
      <button type="button" onClick=${page.reload}>Refresh</button>
    </form>
    <${ErrorLine} error=${page.error ?? actionError} />
    ${canAct
      ? html`<div class="bulk" role="toolbar" aria-label="Actions on the selected jobs">
          <strong data-selected=${checked.size}>${checked.size} selected</strong>
          ${BULK_ACTIONS.map((action) => {
            const count = targets(action).length;
            return html`<button type="button" class=${action.danger ? 'danger' : ''} data-bulk=${action.name} disabled=${busy || count === 0} onClick=${() => (setOutcome(null), setPending(action))}>${action.label} ${count || ''}</button>`;
          })}
          ${checked.size ? html`<button type="button" class="link" onClick=${() => setChecked(new Map())}>Clear selection</button>` : null}
          ${total > 0 && checked.size === 0
            ? html`<span class="filter-wide" data-filter-wide>
                <span>All ${total} matching${filtered ? ' this filter' : ''}:</span>
                ${filters.search.trim()
                  ? html`<span class="hint">clear the search to act on every match (filters only)</span>`
                  : BULK_ACTIONS.map(
                      (action) =>
                        html`<button type="button" class=${action.danger ? 'danger' : ''} data-bulk-filter=${action.name} disabled=${busy || statesTaken(action, jobFilter, statuses).length === 0} onClick=${() => chooseFilterAction(action)}>${action.label} all</button>`,
                    )}
              </span>`
            : null}
          <span role="status" aria-live="polite" data-bulk-outcome=${outcome ? `${outcome.done}/${outcome.asked}` : ''}>${outcome ? describeOutcome(outcome) : busy ? 'Working…' : ''}</span>
        </div>`
      : null}
    ${pending
      ? html`<${Confirm}
          message=${`${pending.label} ${targets(pending).length} job${targets(pending).length === 1 ? '' : 's'}? ${pending.explain}`}
          action=${`${pending.label} ${targets(pending).length}`}
          danger=${pending.danger}
          onConfirm=${runPending}
          onClose=${() => setPending(null)}
        />`
      : null}
    ${pendingFilter
      ? html`<${Confirm}
          message=${`${pendingFilter.action.label} all ${pendingFilter.count} job${pendingFilter.count === 1 ? '' : 's'} ${filtered ? 'matching this filter' : 'you may act on'}${pendingFilter.count === total ? '' : ` (of the ${total} listed, those it applies to)`}? ${pendingFilter.action.explain}`}
          action=${`${pendingFilter.action.label} ${pendingFilter.count}`}
          danger=${pendingFilter.action.danger}
          onConfirm=${runPendingFilter}
          onClose=${() => setPendingFilter(null)}
        />`
      : null}
    ${page.data && rows.length === 0
      ? html`<${Empty}>${filtered ? 'No job matches this search or these filters. Clear them (choose "all") or search for something else.' : 'No jobs yet. Submit one from the Submit view, with submitJobs over the API, or `bun run jg submit` from a terminal.'}</${Empty}>`
      : html`<${TableBox} label="Jobs"><table class="jobs">
      <thead><tr>
        ${canAct ? html`<th><input type="checkbox" aria-label="Select every job on this page" checked=${allOnPage} onChange=${toggleAll} data-select-all /></th>` : null}
        <th>#</th><th>Kind</th><th>Queue</th><th>Owner</th><th>Status</th><th>Progress</th><th>Duration</th><th>Created</th><th><span class="visually-hidden">Actions</span></th>
      </tr></thead>
      <tbody>
        ${rows.map(
          // Keyed by the read too: a row read again (after a retry, say) starts following its job afresh.
          (node) => html`<${JobLine} key=${`${node.id}:${readNumber}`} initial=${node} open=${selected === node.id} onToggle=${() => setSelected(selected === node.id ? null : node.id)} act=${canAct ? act : null} checked=${canAct ? checked.has(node.id) : null} onCheck=${() => toggle(node)} />`,
        )}
      </tbody>
    </table></${TableBox}>`}
    <p class="pager">
      <button disabled=${pageNumber === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>‹ Previous</button>
      <span data-total=${total}>Page ${pageNumber} of ${Math.max(1, Math.ceil(total / pageSize))} · ${total} job${total === 1 ? '' : 's'}</span>
      <button disabled=${!page.data?.jobs.pageInfo.hasNextPage} onClick=${() => setCursors([...cursors, page.data!.jobs.pageInfo.endCursor])}>Next ›</button>
    </p>
  </section>`;
}

type Act = (query: string, id: string, reload: boolean) => Promise<void>;

const describeOutcome = ({ action, asked, done, failures }: BulkOutcome) =>
  `${action.past} ${done} of ${asked} job${asked === 1 ? '' : 's'}${failures.length ? ` · ${failures.length} refused (${failures[0]})` : ''}`;

/** `act` and `checked` are null for the read-only SECRETARY: no action buttons, no selection. */
function JobLine({ initial, open, onToggle, act, checked, onCheck }: { initial: JobRow; open: boolean; onToggle: () => void; act: Act | null; checked: boolean | null; onCheck: () => void }) {
  const { job } = useLiveJob(initial);
  const now = useTicker(500, job.status === 'RUNNING');
  const columns = checked === null ? 10 : 11;
  return html`<tr data-job=${job.id} class=${open ? 'open' : ''}>
      ${checked === null ? null : html`<td><input type="checkbox" aria-label=${`Select job ${job.id}`} checked=${checked} onChange=${onCheck} data-select=${job.id} /></td>`}
      <td><button class="link" onClick=${onToggle} aria-expanded=${open} aria-label=${`Job ${job.id}: details`}>${job.id}</button></td>
      <td>${job.kind}</td>
      <td>${job.queue}</td>
      <td data-owner>${job.owner?.username ?? '—'}</td>
      <td><${StatusBadge} status=${job.status} />${isDelayed(job) ? html` <span class="hint" data-delayed=${job.runAt}>until <${DateTime} iso=${job.runAt} /></span>` : null}</td>
      <td><${ProgressBar} value=${progressOf(job)} /></td>
      <td class="num">${jobDuration(job, now)}</td>
      <td><${DateTime} iso=${job.createdAt} /></td>
      <td class="actions">
        ${act && !isFinal(job.status) ? html`<button onClick=${() => act('mutation($id: ID!) { cancelJob(id: $id) { id status } }', job.id, false)}>Cancel</button>` : null}
        ${act && (job.status === 'FAILED' || job.status === 'CANCELLED') ? html`<button onClick=${() => act('mutation($id: ID!) { retryJob(id: $id) { id status } }', job.id, true)}>Retry</button>` : null}
        ${act && job.status !== 'RUNNING' ? html`<button class="danger" onClick=${() => confirm(`Delete job ${job.id}?`) && act('mutation($id: ID!) { deleteJob(id: $id) }', job.id, true)}>Delete</button>` : null}
      </td>
    </tr>
    ${open ? html`<tr class="detail"><td colspan=${columns}><${JobDetail} id=${job.id} status=${job.status} /></td></tr>` : null}`;
}

interface Detail {
  job: { input: unknown; error: string | null; attempts: number; maxAttempts: number; runAt: string; idempotencyKey: string | null; schedule: string | null; priority: number; events: { type: string; at: string; payload: unknown }[]; result: unknown } | null;
}

function JobDetail({ id, status }: { id: string; status: string }) {
  // Read again when the status changes: a finished job has its result and its last events.
  const detail = usePolled(() => gql<Detail>(`query($id: ID!) { job(id: $id) { input error attempts maxAttempts runAt idempotencyKey schedule priority events { type at payload } ${RESULT_FIELDS} } }`, { id }), 0, [id, status]);
  const job = detail.data?.job;
  if (detail.error) return html`<${ErrorLine} error=${detail.error} />`;
  if (!job) return html`<p>Loading…</p>`;
  return html`<div class="job-detail">
    <dl class="job-facts wide">
      <dt>Run at</dt><dd data-run-at=${job.runAt}><${DateTime} iso=${job.runAt} /></dd>
      <dt>Priority</dt><dd>${job.priority}</dd>
      <dt>Idempotency key</dt><dd data-idempotency-key=${job.idempotencyKey ?? ''}>${job.idempotencyKey ? html`<code>${job.idempotencyKey}</code>` : '—'}</dd>
      <dt>Schedule</dt><dd>${job.schedule ? html`<a href="#/schedules">${job.schedule}</a>` : '—'}</dd>
    </dl>
    <div><h4>Input</h4><pre>${JSON.stringify(job.input, null, 2)}</pre></div>
    <div><h4>Result</h4>${job.error ? html`<p class="error">${job.error}</p>` : null}<pre>${job.result ? JSON.stringify(job.result, null, 2) : '—'}</pre></div>
    <div>
      <h4>Events (attempt ${job.attempts} of ${job.maxAttempts})</h4>
      <ol class="events">${job.events.map((e) => html`<li><${DateTime} iso=${e.at} /> ${e.type}${e.payload ? html` <code>${JSON.stringify(e.payload)}</code>` : null}</li>`)}</ol>
    </div>
  </div>`;
}
