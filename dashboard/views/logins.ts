// Logins (admins): per-user login counts, and every login attempt as it happens (loginEvents).
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, gql, subscribe } from '../api';
import { ErrorLine, formatTime, html, usePolled } from '../ui';

interface LoginEvent {
  username: string;
  success: boolean;
  reason: string | null;
  address: string | null;
  at: string;
}

export function LoginsView() {
  const [events, setEvents] = useState<LoginEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const stats = usePolled(() => gql<{ loginStats: { username: string; loginCount: number; lastLoginAt: string | null }[] }>('{ loginStats { username loginCount lastLoginAt } }'), 0, [events.length]);
  useEffect(
    () => subscribe<{ loginEvents: LoginEvent }>('subscription { loginEvents { username success reason address at } }', {}, ({ loginEvents }) => setEvents((list) => [loginEvents, ...list].slice(0, 100)), setError),
    [],
  );
  return html`<section class="columns">
    <div>
      <h2>Live login attempts</h2>
      <${ErrorLine} error=${error} />
      <table class="logins">
        <thead><tr><th>Time</th><th>User</th><th>Outcome</th><th>Address</th></tr></thead>
        <tbody>${events.map(
          (e) => html`<tr data-login=${e.username}><td>${formatTime(e.at)}</td><td>${e.username}</td><td class=${e.success ? 'ok' : 'error'}>${e.success ? 'signed in' : `refused: ${e.reason ?? ''}`}</td><td>${e.address ?? '—'}</td></tr>`,
        )}</tbody>
      </table>
      ${events.length ? null : html`<p class="hint">Waiting for the next login attempt…</p>`}
    </div>
    <div>
      <h2>Logins per user</h2>
      <${ErrorLine} error=${stats.error} />
      <table>
        <thead><tr><th>User</th><th>Logins</th><th>Last</th></tr></thead>
        <tbody>${(stats.data?.loginStats ?? []).map((s) => html`<tr><td>${s.username}</td><td class="num">${s.loginCount}</td><td>${s.lastLoginAt ? new Date(s.lastLoginAt).toLocaleString() : '—'}</td></tr>`)}</tbody>
      </table>
    </div>
  </section>`;
}
