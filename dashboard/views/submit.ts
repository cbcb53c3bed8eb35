// Submit: every job kind, one or many at once (submitJobs), a calc file as a multipart upload with its progress,
// and the jobs submitted from this tab, each followed live (the statuses it went through, its progress).
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, gql, gqlUpload, type Me, subscribe } from '../api';
import { type JsonSchema, SchemaFields, schemaValues } from './schema-form';
import { ErrorLine, html, isFinal, JOB_FIELDS, type JobRow, type JobStatus, jobDuration, ProgressBar, progressOf, StatusBadge, usePolled, useTicker } from '../ui';

type BuiltinKind = 'PI' | 'FORECAST' | 'CALC' | 'ANALYTICS' | 'DIAGNOSTIC';
/** A built-in kind, or a kind file's (JOB_KINDS_DIR: its JobKind value, its form generated from its input schema). */
type Kind = string;
interface KindFileInfo {
  kind: string;
  name: string;
  description: string;
  inputSchema: JsonSchema;
}
/** The field of JobSubmission (bulk) and the single-submit mutation of each kind. */
const KINDS: Record<BuiltinKind, { field: string | null; mutation: string; inputType: string; label: string }> = {
  PI: { field: 'pi', mutation: 'submitPiJob', inputType: 'PiJobInput', label: 'π (Monte Carlo)' },
  FORECAST: { field: 'forecast', mutation: 'submitForecastJob', inputType: 'ForecastJobInput', label: 'Forecast' },
  CALC: { field: 'calc', mutation: 'submitCalcJob', inputType: 'CalcJobInput', label: 'Calculator' },
  ANALYTICS: { field: 'analytics', mutation: 'submitAnalyticsJob', inputType: 'AnalyticsJobInput', label: 'Analytics' },
  DIAGNOSTIC: { field: null, mutation: 'submitDiagnosticJobs', inputType: 'DiagnosticJobInput', label: 'Diagnostic (admins)' },
};
const ANALYTICS_QUERIES = ['STATES_MEAN', 'BEST5', 'WORST5', 'GLOBAL_MEAN', 'DIFF_FROM_MEAN', 'MEAN_BY_CATEGORY', 'STATE_MEAN', 'STATE_DIFF_FROM_MEAN', 'STATE_MEAN_BY_CATEGORY'];
const DIAGNOSTIC_BEHAVIORS = ['SUCCEED', 'SLEEP', 'THROW', 'EXIT', 'HANG'];
/** Jobs of this tab followed live at once; older ones stay listed as they last were. */
const MAX_FOLLOWED = 20;

// ---- the jobs submitted from this tab, kept across views -----------------------------------------------------
interface Submitted {
  job: JobRow;
  trail: JobStatus[];
}
const submitted: Submitted[] = [];
const listeners = new Set<() => void>();
const changed = () => listeners.forEach((listener) => listener());

function follow(jobs: JobRow[]): void {
  for (const job of jobs.slice(0, MAX_FOLLOWED).reverse()) {
    const entry: Submitted = { job, trail: [job.status] };
    submitted.unshift(entry);
    if (!isFinal(job.status)) {
      subscribe<{ jobUpdated: JobRow }>(`subscription($id: ID!) { jobUpdated(id: $id) { ${JOB_FIELDS} } }`, { id: job.id }, ({ jobUpdated }) => {
        entry.job = jobUpdated;
        if (entry.trail.at(-1) !== jobUpdated.status) entry.trail = [...entry.trail, jobUpdated.status];
        changed();
      });
    }
  }
  submitted.splice(MAX_FOLLOWED * 2);
  changed();
}

function useSubmitted(): Submitted[] {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return submitted;
}

// ---- the form --------------------------------------------------------------------------------------------------
const numberOf = (data: FormData, name: string) => (data.get(name) === '' || data.get(name) === null ? undefined : Number(data.get(name)));
const textOf = (data: FormData, name: string) => (data.get(name) ? String(data.get(name)) : undefined);

function inputOf(kind: Kind, data: FormData, file?: KindFileInfo): Record<string, unknown> {
  const runAt = textOf(data, 'runAt');
  const delaySeconds = numberOf(data, 'delaySeconds');
  const options = {
    queue: textOf(data, 'queue'),
    priority: numberOf(data, 'priority'),
    maxAttempts: numberOf(data, 'maxAttempts'),
    timeoutSeconds: numberOf(data, 'timeoutSeconds'),
    // <input type="datetime-local"> is the viewer's local time, without a zone: Date reads it as such.
    runAt: runAt ? new Date(runAt).toISOString() : undefined,
    delayMs: delaySeconds === undefined ? undefined : Math.round(delaySeconds * 1000),
    idempotencyKey: textOf(data, 'idempotencyKey'),
  };
  if (file) return { ...options, ...schemaValues(file.inputSchema, data) };
  switch (kind) {
    case 'PI':
      return { ...options, simulations: numberOf(data, 'simulations'), concurrency: numberOf(data, 'concurrency'), seed: numberOf(data, 'seed') };
    case 'FORECAST': {
      const from = textOf(data, 'from');
      const to = textOf(data, 'to');
      const assets = String(data.get('assets') ?? '').split(/[\s,]+/).filter(Boolean).map(Number);
      return { ...options, assets, seed: numberOf(data, 'seed'), dateRange: from || to ? { from, to } : undefined };
    }
    case 'CALC':
      return { ...options, expressions: String(data.get('expressions') ?? '').split('\n').filter((line) => line.trim()) };
    case 'ANALYTICS':
      return { ...options, query: data.get('query'), question: data.get('question'), state: textOf(data, 'state'), yearFrom: numberOf(data, 'yearFrom'), yearTo: numberOf(data, 'yearTo') };
    case 'DIAGNOSTIC':
      return { ...options, behavior: data.get('behavior'), durationMs: numberOf(data, 'durationMs') };
    default:
      return options;
  }
}

export function SubmitView({ me }: { me: Me }) {
  const [kind, setKind] = useState<Kind>('PI');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [upload, setUpload] = useState<number | null>(null);
  const jobs = useSubmitted();
  const queues = usePolled(() => gql<{ queues: { name: string }[] }>('{ queues { name } }'), 0);
  const analytics = usePolled(
    () => (kind === 'ANALYTICS' ? gql<{ analytics: { questions: { text: string }[]; states: string[] } }>('{ analytics { questions { text } states } }') : Promise.resolve(null)),
    0,
    [kind],
  );

  const kindFiles = usePolled(() => gql<{ jobKinds: KindFileInfo[] }>('{ jobKinds { kind name description inputSchema } }'), 0);
  const kindFile = kindFiles.data?.jobKinds.find((info) => info.kind === kind);

  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const input = inputOf(kind, data, kindFile);
    const count = Math.max(1, numberOf(data, 'count') ?? 1);
    const { field, mutation, inputType } = kindFile ? { field: kindFile.name, mutation: '', inputType: '' } : KINDS[kind as BuiltinKind];
    const file = kind === 'CALC' ? (data.get('file') as File | null) : null;
    setBusy(true);
    setError(null);
    try {
      let created: JobRow[];
      if (kind === 'DIAGNOSTIC') {
        created = (await gql<{ submitDiagnosticJobs: JobRow[] }>(`mutation($input: DiagnosticJobInput!, $count: Int) { submitDiagnosticJobs(input: $input, count: $count) { ${JOB_FIELDS} } }`, { input, count })).submitDiagnosticJobs;
      } else if (file && file.size > 0) {
        setUpload(0);
        const query = `mutation($input: CalcJobInput!) { submitCalcJob(input: $input) { ${JOB_FIELDS} } }`;
        created = [(await gqlUpload<{ submitCalcJob: JobRow }>(query, { input: { ...input, expressions: undefined, file: null } }, 'variables.input.file', file, setUpload)).submitCalcJob];
      } else if (count > 1 || kindFile) {
        const query = `mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs) { ${JOB_FIELDS} } }`;
        // One key names one job: each of the N gets its own, `<key>-1` … `<key>-N`.
        const key = input.idempotencyKey as string | undefined;
        const jobs = Array.from({ length: count }, (_, i) => ({ [field!]: key && count > 1 ? { ...input, idempotencyKey: `${key}-${i + 1}` } : input }));
        created = (await gql<{ submitJobs: JobRow[] }>(query, { jobs })).submitJobs;
      } else {
        created = [(await gql<Record<string, JobRow>>(`mutation($input: ${inputType}!) { ${mutation}(input: $input) { ${JOB_FIELDS} } }`, { input }))[mutation]!];
      }
      follow(created);
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setBusy(false);
    }
  };

  const builtins = (Object.keys(KINDS) as BuiltinKind[]).filter((k) => k !== 'DIAGNOSTIC' || me.role === 'ADMIN');
  const labelOf = (k: Kind) => KINDS[k as BuiltinKind]?.label ?? kindFiles.data?.jobKinds.find((info) => info.kind === k)?.name ?? k;
  const kinds: Kind[] = [...builtins, ...(kindFiles.data?.jobKinds ?? []).map((info) => info.kind)];
  const questions = analytics.data?.analytics.questions ?? [];
  return html`<section class="submit">
    <h2>Submit jobs</h2>
    <div class="tabs" role="tablist">
      ${kinds.map((k) => html`<button role="tab" aria-selected=${k === kind} class=${k === kind ? 'active' : ''} data-kind=${k} onClick=${() => setKind(k)}>${labelOf(k)}</button>`)}
    </div>
    <form class="card grid" onSubmit=${submit} key=${kind}>
      ${kindFile ? html`<p class="wide">${kindFile.description}</p><${SchemaFields} schema=${kindFile.inputSchema} />` : null}
      ${kind === 'PI'
        ? html`<label>Simulations <input name="simulations" type="number" min="1" defaultValue="100000000" required /></label>
            <label>Concurrency <input name="concurrency" type="number" min="1" max="64" defaultValue="2" /></label>
            <label>Seed <input name="seed" type="number" placeholder="random" /></label>`
        : null}
      ${kind === 'FORECAST'
        ? html`<label>Assets <input name="assets" defaultValue="3, 14, 15" required /></label>
            <label>Seed <input name="seed" type="number" placeholder="random" /></label>
            <label>From <input name="from" type="date" /></label><label>To <input name="to" type="date" /></label>`
        : null}
      ${kind === 'CALC'
        ? html`<label class="wide">Expressions, one per line <textarea name="expressions" rows="4">1 + 2 * 3\n2 ^ 10\n1 / 0</textarea></label>
            <label class="wide">…or a file of expressions <input name="file" type="file" accept=".txt,text/plain" /></label>
            ${upload !== null ? html`<div class="wide upload" data-upload=${Math.round(upload * 100)}>Upload <${ProgressBar} value=${upload} /> ${Math.round(upload * 100)}%</div>` : null}`
        : null}
      ${kind === 'ANALYTICS'
        ? html`<label>Query <select name="query">${ANALYTICS_QUERIES.map((q) => html`<option>${q}</option>`)}</select></label>
            <label class="wide">Question <select name="question">${questions.map((q) => html`<option>${q.text}</option>`)}</select></label>
            <label>State (STATE_…) <select name="state"><option defaultValue="">—</option>${(analytics.data?.analytics.states ?? []).map((s) => html`<option>${s}</option>`)}</select></label>
            <label>Years from <input name="yearFrom" type="number" min="2011" max="2021" /></label><label>to <input name="yearTo" type="number" min="2011" max="2021" /></label>`
        : null}
      ${kind === 'DIAGNOSTIC'
        ? html`<label>Behavior <select name="behavior">${DIAGNOSTIC_BEHAVIORS.map((b) => html`<option>${b}</option>`)}</select></label>
            <label>Duration (ms) <input name="durationMs" type="number" min="0" defaultValue="0" /></label>`
        : null}
      <fieldset class="wide options">
        <legend>Options</legend>
        <label>Queue <select name="queue">${(queues.data?.queues ?? [{ name: 'default' }]).map((q) => html`<option>${q.name}</option>`)}</select></label>
        <label>Priority <input name="priority" type="number" min="-1000" max="1000" placeholder="0" /></label>
        <label>Max attempts <input name="maxAttempts" type="number" min="1" max="20" placeholder="3" /></label>
        <label>Timeout (s) <input name="timeoutSeconds" type="number" min="1" max="3600" placeholder="300" /></label>
        <label>How many <input name="count" type="number" min="1" max="10000" defaultValue="1" /></label>
      </fieldset>
      <fieldset class="wide options">
        <legend>When, and only once</legend>
        <label>Run at <input name="runAt" type="datetime-local" step="1" /></label>
        <label>or after (s) <input name="delaySeconds" type="number" min="0" step="any" placeholder="now" /></label>
        <label>Idempotency key <input name="idempotencyKey" maxlength="200" placeholder="none" /></label>
        <p class="hint wide">Give Run at or a delay, not both. The same idempotency key returns the job it first made (several jobs: key-1 … key-N).</p>
      </fieldset>
      <div class="wide"><button type="submit" disabled=${busy}>${busy ? 'Submitting…' : 'Submit'}</button></div>
      <div class="wide"><${ErrorLine} error=${error} /></div>
    </form>
    <h3>Submitted from this tab</h3>
    <ul class="submitted">${jobs.map((entry) => html`<${SubmittedJob} key=${entry.job.id} entry=${entry} />`)}</ul>
  </section>`;
}

function SubmittedJob({ entry }: { entry: Submitted }) {
  const { job, trail } = entry;
  const now = useTicker(500, job.status === 'RUNNING');
  return html`<li data-submitted-job=${job.id}>
    <a href="#/jobs">#${job.id}</a> ${job.kind} on ${job.queue} <${StatusBadge} status=${job.status} /> <${ProgressBar} value=${progressOf(job)} />
    <span class="num">${jobDuration(job, now)}</span>
    <span class="trail" data-trail=${trail.join(' ')}>${trail.join(' → ')}</span>
    ${job.error ? html`<span class="error">${job.error}</span>` : null}
  </li>`;
}
