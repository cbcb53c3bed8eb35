// What the views share: htm over Preact, the job row's fields and its live updates, and small widgets.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, subscribe } from './api';

export { html };

export type JobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export const JOB_STATUSES: JobStatus[] = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
export const JOB_KINDS = ['PI', 'FORECAST', 'CALC', 'ANALYTICS', 'DIAGNOSTIC'];
export const isFinal = (status: JobStatus) => status === 'SUCCEEDED' || status === 'FAILED' || status === 'CANCELLED';

export interface JobRow {
  id: string;
  kind: string;
  status: JobStatus;
  queue: string;
  progress: number;
  attempts: number;
  maxAttempts: number;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Not started before this instant (a delayed job's runAt/delayMs, or a retry's backoff). */
  runAt: string;
  durationMs: number | null;
  owner: { id: string; username: string } | null;
}

export const JOB_FIELDS = 'id kind status queue progress attempts maxAttempts error createdAt startedAt finishedAt runAt durationMs owner { id username }';

/** A QUEUED job whose runAt is still ahead waits for it (delayed, or backing off before a retry). */
export const isDelayed = (job: JobRow, now = Date.now()) => job.status === 'QUEUED' && Date.parse(job.runAt) > now;

/**
 * The job as it is now: `initial`, then every jobUpdated event until its final state. `trail` lists the statuses
 * this page has shown, in order (QUEUED → RUNNING → SUCCEEDED).
 */
export function useLiveJob(initial: JobRow): { job: JobRow; trail: JobStatus[] } {
  const [state, setState] = useState({ job: initial, trail: [initial.status] });
  useEffect(() => {
    if (isFinal(initial.status)) return;
    return subscribe<{ jobUpdated: JobRow }>(`subscription($id: ID!) { jobUpdated(id: $id) { ${JOB_FIELDS} } }`, { id: initial.id }, ({ jobUpdated }) =>
      setState(({ trail }) => ({ job: jobUpdated, trail: trail.at(-1) === jobUpdated.status ? trail : [...trail, jobUpdated.status] })),
    );
  }, [initial.id]);
  return state;
}

/** Re-renders every `ms` while `active` (a running job's duration counts up). */
export function useTicker(ms: number, active = true): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms, active]);
  return now;
}

export function jobDuration(job: JobRow, now: number): string {
  if (job.durationMs !== null) return formatMs(job.durationMs);
  if (job.status === 'RUNNING' && job.startedAt) return formatMs(Math.max(0, now - Date.parse(job.startedAt)));
  return '—';
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const formatTime = (iso: string | null) => (iso ? new Date(iso).toLocaleTimeString() : '—');

/** A date and time in the viewer's locale and time zone (the full instant in the tooltip). */
export const DateTime = ({ iso }: { iso: string | null }) =>
  iso ? html`<time datetime=${iso} title=${iso}>${new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}</time>` : '—';

/** A table that scrolls sideways inside its own box on a narrow screen; `label` names it for screen readers. */
export const TableBox = ({ label, children }: { label: string; children: unknown }) =>
  html`<div class="table-box" role="region" aria-label=${label} tabindex="0">${children}</div>`;

/** What an empty list says: why it is empty and what to do. */
export const Empty = ({ children }: { children: unknown }) => html`<p class="empty" data-empty>${children}</p>`;

/**
 * A modal confirmation (the native <dialog>: focus is trapped, Escape cancels). `onConfirm` runs on the
 * primary button; both buttons close it.
 */
export function Confirm({ message, action, danger, onConfirm, onClose }: { message: string; action: string; danger?: boolean; onConfirm: () => void; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return html`<dialog ref=${ref} onClose=${onClose} aria-labelledby="confirm-message" data-confirm>
    <p id="confirm-message">${message}</p>
    <menu>
      <button type="button" onClick=${() => ref.current?.close()}>Keep them</button>
      <button type="button" class=${danger ? 'primary danger-primary' : 'primary'} data-confirm-action onClick=${() => (onConfirm(), ref.current?.close())}>${action}</button>
    </menu>
  </dialog>`;
}

export const StatusBadge = ({ status }: { status: JobStatus }) => html`<span role="status" aria-live="polite" class=${`badge status-${status.toLowerCase()}`} data-status=${status}>${status}</span>`;

/** A finished job's bar is full whatever its last progress report said (a calc job reports per chunk). */
export const progressOf = (job: JobRow) => (job.status === 'SUCCEEDED' ? 1 : job.progress);

export const ProgressBar = ({ value }: { value: number }) =>
  html`<span class="progress" title=${`${Math.round(value * 100)}%`}><span style=${{ width: `${Math.round(value * 100)}%` }}></span></span>`;

export const ErrorLine = ({ error }: { error: ApiError | Error | string | null }) =>
  error ? html`<p class="error" role="alert">${typeof error === 'string' ? error : error.message}${(error as ApiError).code ? html` <code>${(error as ApiError).code}</code>` : null}</p>` : null;

/** Runs `load` now and every `ms` (0: once); what it returns, or its error. `reload` runs it again at once. */
export function usePolled<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []): { data: T | null; error: ApiError | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () =>
      load().then(
        (value) => live && (setData(value), setError(null)),
        (failure: ApiError) => live && setError(failure),
      );
    void run();
    const timer = ms ? setInterval(run, ms) : undefined;
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [...deps, generation]);
  return { data, error, reload: () => setGeneration((g) => g + 1) };
}
