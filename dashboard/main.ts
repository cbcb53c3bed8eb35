/// <reference lib="dom" />
// The dashboard's shell: sign-in, the navigation each role gets, and a view per hash route (#/jobs, #/queues, …).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, currentToken, gql, type Me, setToken } from './api';
import { ErrorLine, html } from './ui';
import { AnalyticsView } from './views/analytics';
import { JobsView } from './views/jobs';
import { LoginsView } from './views/logins';
import { QueuesView } from './views/queues';
import { QuotesView } from './views/quotes';
import { SchedulesView } from './views/schedules';
import { SubmitView } from './views/submit';
import { UsersView } from './views/users';
import { WorkersView } from './views/workers';

/** Each view, who sees it in the navigation (the API decides what they may do in it). */
const VIEWS = [
  { route: 'jobs', title: 'Jobs', view: JobsView, roles: ['ADMIN', 'MANAGER', 'USER', 'SECRETARY'] },
  { route: 'queues', title: 'Queues', view: QueuesView, roles: ['ADMIN', 'MANAGER', 'USER', 'SECRETARY'] },
  { route: 'schedules', title: 'Schedules', view: SchedulesView, roles: ['ADMIN', 'MANAGER', 'SECRETARY'] },
  { route: 'workers', title: 'Workers', view: WorkersView, roles: ['ADMIN', 'MANAGER'] },
  { route: 'submit', title: 'Submit', view: SubmitView, roles: ['ADMIN', 'MANAGER', 'USER'] },
  { route: 'analytics', title: 'Analytics', view: AnalyticsView, roles: ['ADMIN', 'MANAGER', 'USER', 'SECRETARY'] },
  { route: 'quotes', title: 'Quotes', view: QuotesView, roles: ['ADMIN', 'MANAGER', 'USER', 'SECRETARY'] },
  { route: 'users', title: 'Users', view: UsersView, roles: ['ADMIN'] },
  { route: 'logins', title: 'Logins', view: LoginsView, roles: ['ADMIN'] },
] as const;

type Theme = 'light' | 'dark';
const THEME_KEY = 'jobgraph:theme';
const systemTheme = (): Theme => (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
/** The theme chosen with the toggle (remembered in localStorage), else the system's. */
function applyTheme(theme: Theme | null): void {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem(THEME_KEY) as Theme | null);

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>((localStorage.getItem(THEME_KEY) as Theme | null) ?? systemTheme());
  useEffect(() => {
    // Without a choice of its own the page follows the system, and so does the button's label.
    const media = matchMedia('(prefers-color-scheme: dark)');
    const follow = () => localStorage.getItem(THEME_KEY) || setTheme(systemTheme());
    media.addEventListener('change', follow);
    return () => media.removeEventListener('change', follow);
  }, []);
  const next: Theme = theme === 'dark' ? 'light' : 'dark';
  const flip = () => {
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
    setTheme(next);
  };
  return html`<button type="button" class="theme" onClick=${flip} aria-pressed=${theme === 'dark'} data-theme-toggle=${theme}>${theme === 'dark' ? '☀ Light' : '☾ Dark'}<span class="visually-hidden"> theme</span></button>`;
}

const routeOf = () => location.hash.replace(/^#\/?/, '').split('/')[0] || 'jobs';

function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    try {
      const { login } = await gql<{ login: { token: string; user: Me } }>(
        'mutation($username: String!, $password: String!) { login(username: $username, password: $password) { token user { id username role } } }',
        { username: form.get('username'), password: form.get('password') },
      );
      setToken(login.token);
      onSignedIn(login.user);
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form onSubmit=${submit} class="card" aria-label="Sign in">
      <h1>jobgraph</h1>
      <label>Username <input name="username" autocomplete="username" required autofocus /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${busy}>Sign in</button>
      <${ErrorLine} error=${error} />
      <p class="hint">Your token is kept for this tab only. The API itself is at <a href="/graphql">/graphql</a>.</p>
    </form>
  </main>`;
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(currentToken() !== null);
  const [route, setRoute] = useState(routeOf());
  useEffect(() => {
    const onHash = () => setRoute(routeOf());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (!currentToken()) return;
    // A token kept from earlier in this tab: still good?
    gql<{ me: Me | null }>('{ me { id username role } }')
      .then(({ me }) => (me ? setMe(me) : setToken(null)), () => setToken(null))
      .finally(() => setChecking(false));
  }, []);

  if (checking) return html`<p class="loading">Loading…</p>`;
  if (!me) return html`<${SignIn} onSignedIn=${setMe} />`;
  const visible = VIEWS.filter((view) => (view.roles as readonly string[]).includes(me.role));
  const current = visible.find((view) => view.route === route) ?? visible[0]!;
  const signOut = async () => {
    await gql('mutation { logout }').catch(() => {});
    setToken(null);
    setMe(null);
  };
  const View = current.view as (props: { me: Me }) => unknown;
  return html`<div class="shell">
    <header>
      <strong class="brand">jobgraph</strong>
      <nav aria-label="Views">${visible.map((view) => html`<a href=${`#/${view.route}`} class=${view === current ? 'active' : ''} aria-current=${view === current ? 'page' : undefined} data-view=${view.route}>${view.title}</a>`)}</nav>
      <span class="who" data-role=${me.role}>${me.username} · ${me.role.toLowerCase()}</span>
      <${ThemeToggle} />
      <button class="link" onClick=${signOut}>Sign out</button>
    </header>
    <main key=${current.route} data-current-view=${current.route}><${View} me=${me} /></main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
