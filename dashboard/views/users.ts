// Users (admins): every account, creating one, and per account: role, disable/enable, a new password; and ending
// a username's login lockout. Each action is the public API's (createUser, updateUser, unlockUsername).
import { useState } from 'preact/hooks';
import { type ApiError, gql, type Me } from '../api';
import { DateTime, Empty, ErrorLine, html, TableBox, usePolled } from '../ui';

const ROLES = ['ADMIN', 'MANAGER', 'USER', 'SECRETARY'];

interface UserRow {
  id: string;
  username: string;
  role: string;
  disabled: boolean;
  loginCount: number;
  lastLoginAt: string | null;
  createdAt: string;
}

const USERS_QUERY = '{ users(first: 100) { totalCount edges { node { id username role disabled loginCount lastLoginAt createdAt } } } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }';

export function UsersView({ me }: { me: Me }) {
  const users = usePolled(() => gql<{ users: { totalCount: number; edges: { node: UserRow }[] } }>(USERS_QUERY), 0);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState('');
  const run = async (query: string, variables: Record<string, unknown>, done: string) => {
    setError(null);
    setNotice('');
    try {
      await gql(query, variables);
      setNotice(done);
      users.reload();
      return true;
    } catch (failure) {
      setError(failure as ApiError);
      return false;
    }
  };
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = Object.fromEntries(new FormData(form));
    if (await run('mutation($input: CreateUserInput!) { createUser(input: $input) { id } }', { input: data }, `Created ${data.username}.`)) form.reset();
  };
  const unlock = async (event: Event) => {
    event.preventDefault();
    const username = String(new FormData(event.target as HTMLFormElement).get('username'));
    await run('mutation($username: String!) { unlockUsername(username: $username) }', { username }, `${username} may try to log in again.`);
  };
  const rows = users.data?.users.edges.map(({ node }) => node) ?? [];
  return html`<section>
    <h2>Users</h2>
    <form class="users-form card" onSubmit=${create} aria-label="Create a user">
      <label>Username <input name="username" required minlength="3" maxlength="64" autocomplete="off" /></label>
      <label>Password <input name="password" type="password" required minlength="8" maxlength="256" autocomplete="new-password" /></label>
      <label>Role <select name="role">${ROLES.map((role) => html`<option value=${role} selected=${role === 'USER'}>${role}</option>`)}</select></label>
      <button type="submit">Create user</button>
    </form>
    <form class="users-form" onSubmit=${unlock} aria-label="Unlock a username">
      <label>Locked-out username <input name="username" required autocomplete="off" /></label>
      <button type="submit" data-unlock>Unlock</button>
      <span class="hint">Too many wrong passwords lock a username for a while; unlocking ends that at once.</span>
    </form>
    <${ErrorLine} error=${users.error ?? error} />
    <p role="status" aria-live="polite" class="ok" data-notice>${notice}</p>
    ${users.data && rows.length === 0
      ? html`<${Empty}>No accounts to show. Create one above.</${Empty}>`
      : html`<${TableBox} label="Users"><table class="users">
      <thead><tr><th>User</th><th>Role</th><th>State</th><th>Logins</th><th>Last login</th><th>Created</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${rows.map((user) => html`<${UserLine} key=${user.id} user=${user} self=${user.id === me.id} run=${run} />`)}</tbody>
    </table></${TableBox}>`}
  </section>`;
}

type Run = (query: string, variables: Record<string, unknown>, done: string) => Promise<boolean>;

function UserLine({ user, self, run }: { user: UserRow; self: boolean; run: Run }) {
  const [resetting, setResetting] = useState(false);
  const reset = async (event: Event) => {
    event.preventDefault();
    const password = String(new FormData(event.target as HTMLFormElement).get('password'));
    if (await run(UPDATE, { id: user.id, input: { password } }, `New password set for ${user.username}; their sessions ended.`)) setResetting(false);
  };
  return html`<tr data-user=${user.username}>
    <td>${user.username}${self ? html` <span class="hint">(you)</span>` : null}</td>
    <td>
      <select aria-label=${`Role of ${user.username}`} name="role" value=${user.role}
        onChange=${(e: Event) => run(UPDATE, { id: user.id, input: { role: (e.target as HTMLSelectElement).value } }, `${user.username} is now ${(e.target as HTMLSelectElement).value}.`)}>
        ${ROLES.map((role) => html`<option value=${role}>${role}</option>`)}
      </select>
    </td>
    <td data-disabled=${user.disabled}>${user.disabled ? html`<span class="badge status-failed">disabled</span>` : html`<span class="badge status-active">active</span>`}</td>
    <td class="num">${user.loginCount}</td>
    <td><${DateTime} iso=${user.lastLoginAt} /></td>
    <td><${DateTime} iso=${user.createdAt} /></td>
    <td class="actions">
      <button type="button" data-toggle-disabled onClick=${() => run(UPDATE, { id: user.id, input: { disabled: !user.disabled } }, `${user.username} ${user.disabled ? 'enabled' : 'disabled'}.`)}>${user.disabled ? 'Enable' : 'Disable'}</button>
      ${resetting
        ? html`<form class="inline" onSubmit=${reset}><label>New password <input name="password" type="password" required minlength="8" autocomplete="new-password" /></label><button type="submit">Set</button><button type="button" onClick=${() => setResetting(false)}>Cancel</button></form>`
        : html`<button type="button" onClick=${() => setResetting(true)}>Reset password</button>`}
    </td>
  </tr>`;
}
