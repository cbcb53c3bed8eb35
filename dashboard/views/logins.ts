// Logins (admins): the recorded history (loginHistory, filtered and paged) beside every attempt as it happens
// (loginEvents), and per-user counts.
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, gql, subscribe } from '../api';
import { DateTime, Empty, ErrorLine, html, TableBox, usePolled } from '../ui';

interface LoginEvent {
  username: string;
  success: boolean;
  reason: string | null;
  address: string | null;
  at: string;
}

interface HistoryPage {
  loginHistory: { edges: { node: LoginEvent }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const HISTORY_QUERY = `query($first: Int, $after: String, $username: String, $success: Boolean, $address: String, $since: DateTime, $until: DateTime) {
  loginHistory(first: $first, after: $after, username: $username, success: $success, address: $address, since: $since, until: $until) {
    edges { node { username success reason address at } } pageInfo { hasNextPage endCursor }
  }
}`;

const Outcome = ({ event }: { event: LoginEvent }) =>
  html`<td class=${event.success ? 'ok' : 'error'}>${event.success ? 'signed in' : `refused: ${event.reason ?? ''}`}</td>`;

export function LoginsView() {
  const [events, setEvents] = useState<LoginEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const stats = usePolled(() => gql<{ loginStats: { username: string; loginCount: number; lastLoginAt: string | null }[] }>('{ loginStats { username loginCount lastLoginAt } }'), 0, [events.length]);
  useEffect(
    () => subscribe<{ loginEvents: LoginEvent }>('subscription { loginEvents { username success reason address at } }', {}, ({ loginEvents }) => setEvents((list) => [loginEvents, ...list].slice(0, 100)), setError),
    [],
  );
  return html`<section>
    <div class="columns">
      <div>
        <h2>Live login attempts</h2>
        <${ErrorLine} error=${error} />
        <${TableBox} label="Live login attempts"><table class="logins" aria-live="polite">
          <thead><tr><th>Time</th><th>User</th><th>Outcome</th><th>Address</th></tr></thead>
          <tbody>${events.map((e) => html`<tr data-login=${e.username}><td><${DateTime} iso=${e.at} /></td><td>${e.username}</td><${Outcome} event=${e} /><td>${e.address ?? '—'}</td></tr>`)}</tbody>
        </table></${TableBox}>
        ${events.length ? null : html`<p class="hint" role="status">Waiting for the next login attempt… The history below has the earlier ones.</p>`}
      </div>
      <div>
        <h2>Logins per user</h2>
        <${ErrorLine} error=${stats.error} />
        <${TableBox} label="Logins per user"><table>
          <thead><tr><th>User</th><th>Logins</th><th>Last</th></tr></thead>
          <tbody>${(stats.data?.loginStats ?? []).map((s) => html`<tr><td>${s.username}</td><td class="num">${s.loginCount}</td><td><${DateTime} iso=${s.lastLoginAt} /></td></tr>`)}</tbody>
        </table></${TableBox}>
      </div>
    </div>
    <${LoginHistory} newest=${events.length} />
  </section>`;
}

interface HistoryFilters {
  username: string;
  success: string;
  address: string;
  since: string;
  until: string;
}

/** A `datetime-local` value (the viewer's zone) as an instant, or null. */
const instant = (local: string) => (local ? new Date(local).toISOString() : null);

function LoginHistory({ newest }: { newest: number }) {
  const [filters, setFilters] = useState<HistoryFilters>({ username: '', success: '', address: '', since: '', until: '' });
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const variables = {
    first: 25,
    after: cursors.at(-1) ?? null,
    username: filters.username.trim() || null,
    success: filters.success === '' ? null : filters.success === 'true',
    address: filters.address.trim() || null,
    since: instant(filters.since),
    until: instant(filters.until),
  };
  // Read again when a live attempt arrives, on the first page only (later pages would shift under the reader).
  const page = usePolled(() => gql<HistoryPage>(HISTORY_QUERY, variables), 0, [JSON.stringify(variables), cursors.length === 1 ? newest : 0]);
  const apply = (event: Event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target as HTMLFormElement)) as unknown as HistoryFilters;
    setFilters(data);
    setCursors([null]);
  };
  const rows = page.data?.loginHistory.edges.map(({ node }) => node) ?? [];
  return html`<div class="history">
    <h2>Login history</h2>
    <form class="filters" onSubmit=${apply} aria-label="Filter the login history">
      <label>User <input name="username" autocomplete="off" /></label>
      <label>Outcome <select name="success"><option value="">all</option><option value="true">signed in</option><option value="false">refused</option></select></label>
      <label>Address <input name="address" autocomplete="off" /></label>
      <label>From <input name="since" type="datetime-local" /></label>
      <label>To <input name="until" type="datetime-local" /></label>
      <button type="submit">Filter</button>
    </form>
    <${ErrorLine} error=${page.error} />
    ${page.data && rows.length === 0
      ? html`<${Empty}>No recorded attempt matches. Widen the time range or clear a filter.</${Empty}>`
      : html`<${TableBox} label="Login history"><table class="login-history">
      <thead><tr><th>Time</th><th>User</th><th>Outcome</th><th>Address</th></tr></thead>
      <tbody>${rows.map((e) => html`<tr data-history=${e.username}><td><${DateTime} iso=${e.at} /></td><td>${e.username}</td><${Outcome} event=${e} /><td>${e.address ?? '—'}</td></tr>`)}</tbody>
    </table></${TableBox}>`}
    <p class="pager">
      <button disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>‹ Newer</button>
      <span>Page ${cursors.length}</span>
      <button disabled=${!page.data?.loginHistory.pageInfo.hasNextPage} onClick=${() => setCursors([...cursors, page.data!.loginHistory.pageInfo.endCursor])}>Older ›</button>
    </p>
  </div>`;
}
