// Queues: their counts, concurrency and state, refreshed every two seconds; pause/resume for managers and admins,
// edit, create and delete for admins.
import { useState } from 'preact/hooks';
import { type ApiError, gql, type Me } from '../api';
import { ErrorLine, html, usePolled, TableBox } from '../ui';
import { limitsInput, QUEUE_LIMIT_FIELDS, type QueueLimits, QueueLimitsCell, QueueLimitsFields } from './queue-limits';

interface Queue extends QueueLimits {
  name: string;
  concurrency: number;
  maxLength: number;
  paused: boolean;
  order: 'FIFO' | 'FAIR';
  ownerConcurrency: number | null;
  owners: { ownerId: string | null; username: string | null; waiting: number; running: number }[];
  waiting: number;
  counts: { queued: number; running: number; succeeded: number; failed: number; cancelled: number; total: number };
}

const QUEUE_FIELDS = `name concurrency maxLength paused order ownerConcurrency owners(first: 5) { ownerId username waiting running } waiting counts { queued running succeeded failed cancelled total } ${QUEUE_LIMIT_FIELDS}`;

export function QueuesView({ me }: { me: Me }) {
  const queues = usePolled(() => gql<{ queues: Queue[] }>(`{ queues { ${QUEUE_FIELDS} } }`), 2000);
  const [error, setError] = useState<ApiError | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const isManager = me.role === 'MANAGER' || me.role === 'ADMIN';
  const isAdmin = me.role === 'ADMIN';
  const run = async (query: string, variables: Record<string, unknown>) => {
    setError(null);
    try {
      await gql(query, variables);
      queues.reload();
      return true;
    } catch (failure) {
      setError(failure as ApiError);
      return false;
    }
  };
  const numbers = (form: HTMLFormElement) => {
    const data = new FormData(form);
    const value = (name: string) => (data.get(name) ? Number(data.get(name)) : undefined);
    // An empty "per owner" box means no limit (null), which lifts one on an update.
    const ownerConcurrency = data.get('ownerConcurrency') ? Number(data.get('ownerConcurrency')) : null;
    return { name: String(data.get('name') ?? ''), concurrency: value('concurrency'), maxLength: value('maxLength'), order: String(data.get('order') ?? 'FIFO'), ownerConcurrency };
  };
  const save = async (event: Event, name: string) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const { concurrency, maxLength, order, ownerConcurrency } = numbers(form);
    const input = { concurrency, maxLength, order, ownerConcurrency, ...limitsInput(new FormData(form)) };
    if (await run('mutation($name: String!, $input: UpdateQueueInput!) { updateQueue(name: $name, input: $input) { name } }', { name, input })) setEditing(null);
  };
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    if (await run('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: numbers(form) })) form.reset();
  };

  return html`<section>
    <h2>Queues</h2>
    <${ErrorLine} error=${queues.error ?? error} />
    <${TableBox} label="Queues"><table class="queues">
      <thead><tr><th>Queue</th><th>State</th><th>Concurrency</th><th>Max length</th><th>Rate limit, retention</th><th>Queued</th><th>Running</th><th>Succeeded</th><th>Failed</th><th>Cancelled</th><th>Order</th><th>By owner (waiting / running)</th><th></th></tr></thead>
      <tbody>
        ${(queues.data?.queues ?? []).map((queue) =>
          editing === queue.name
            ? html`<tr data-queue=${queue.name}><td colspan="13">
                <form class="inline" onSubmit=${(e: Event) => save(e, queue.name)}>
                  <strong>${queue.name}</strong>
                  <label>Concurrency <input name="concurrency" type="number" min="1" defaultValue=${queue.concurrency} /></label>
                  <label>Max length <input name="maxLength" type="number" min="1" defaultValue=${queue.maxLength} /></label>
                  ${orderSelect(queue.order)}
                  <label>Per owner <input name="ownerConcurrency" type="number" min="1" placeholder="no limit" defaultValue=${queue.ownerConcurrency ?? ''} /></label>
                  <${QueueLimitsFields} queue=${queue} />
                  <button type="submit">Save</button> <button type="button" onClick=${() => setEditing(null)}>Cancel</button>
                </form>
              </td></tr>`
            : html`<tr data-queue=${queue.name}>
                <td>${queue.name}</td>
                <td><span class=${`badge ${queue.paused ? 'status-paused' : 'status-active'}`} data-paused=${String(queue.paused)}>${queue.paused ? 'paused' : 'active'}</span></td>
                <td class="num">${queue.concurrency}</td>
                <td class="num">${queue.maxLength.toLocaleString()}</td>
                <td><${QueueLimitsCell} queue=${queue} /></td>
                <td class="num">${queue.waiting}</td>
                <td class="num">${queue.counts.running}</td>
                <td class="num">${queue.counts.succeeded}</td>
                <td class="num">${queue.counts.failed}</td>
                <td class="num">${queue.counts.cancelled}</td>
                <td data-order=${queue.order}>${queue.order === 'FAIR' ? 'fair' : 'FIFO'}${queue.ownerConcurrency ? html` <small>(≤ ${queue.ownerConcurrency} per owner)</small>` : null}</td>
                <td class="owners">${queue.owners.map((owner) => html`<span class="owner">${owner.username ?? 'deleted account'} ${owner.waiting} / ${owner.running}</span> `)}</td>
                <td class="actions">
                  ${isManager
                    ? html`<button onClick=${() => run(`mutation($name: String!) { ${queue.paused ? 'resumeQueue' : 'pauseQueue'}(name: $name) { paused } }`, { name: queue.name })}>
                        ${queue.paused ? 'Resume' : 'Pause'}
                      </button>`
                    : null}
                  ${isAdmin ? html`<button onClick=${() => setEditing(queue.name)}>Edit</button>` : null}
                  ${isAdmin && queue.name !== 'default'
                    ? html`<button class="danger" onClick=${() => confirm(`Delete queue ${queue.name} and all its jobs?`) && run('mutation($name: String!) { deleteQueue(name: $name) }', { name: queue.name })}>Delete</button>`
                    : null}
                </td>
              </tr>`,
        )}
      </tbody>
    </table></${TableBox}>
    ${me.role === 'USER' ? html`<p class="hint">Counts are of your own jobs; "Queued" counts every owner's waiting jobs.</p>` : null}
    ${isAdmin
      ? html`<form class="inline card" onSubmit=${create}>
          <strong>New queue</strong>
          <label>Name <input name="name" required /></label>
          <label>Concurrency <input name="concurrency" type="number" min="1" placeholder="8 per worker" /></label>
          <label>Max length <input name="maxLength" type="number" min="1" placeholder="1,000,000" /></label>
          ${orderSelect('FIFO')}
          <label>Per owner <input name="ownerConcurrency" type="number" min="1" placeholder="no limit" /></label>
          <button type="submit">Create</button>
        </form>`
      : null}
  </section>`;
}

/** FIFO: one owner's backlog runs before a later owner's job; FAIR: owners take turns (docs/queues.md). */
function orderSelect(current: 'FIFO' | 'FAIR') {
  return html`<label>Order <select name="order" defaultValue=${current}>
    <option value="FIFO" selected=${current === 'FIFO'}>FIFO</option>
    <option value="FAIR" selected=${current === 'FAIR'}>Fair (owners take turns)</option>
  </select></label>`;
}
