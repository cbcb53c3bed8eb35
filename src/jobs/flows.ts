import { Repeater } from 'graphql-yoga';
import type { Flow, ParentFailure } from '../db/schema';
import { conflict, notFound, unavailable } from '../errors';
import { type EventBus, MAX_UNREAD_EVENTS } from '../events';
import { MAX_FLOW_NODES, parentIndexes } from './flow-graph';
import { type Actor, announce, type Job, requireWriter } from './model';
import type { JobRunner } from './runner';
import type { FlowChange, JobStore, NewQueuedJob } from './store';

export { MAX_FLOW_NODES };

/** One node of submitFlow: a job request, its key, the keys it depends on, and what a parent's failure does to it. */
export interface FlowNodeRequest<JobRequest> {
  key: string;
  job: JobRequest;
  dependsOn?: readonly string[] | null;
  onParentFailure?: ParentFailure | null;
}

/**
 * What FlowsService needs of the jobs service (./service.ts, which builds it: typed by it, so not imported here):
 * submissions checked as submitJobs checks them, and announced alike.
 */
export interface FlowSubmissions<JobRequest, SubmitOptions> {
  prepareJobs(actor: Actor, requests: JobRequest[], options: SubmitOptions): (NewQueuedJob & { value: unknown })[];
  announceInserted(prepared: (NewQueuedJob & { value: unknown })[], jobs: Job[]): void;
  admit(actor: Actor, count: number): Promise<() => void>;
}

export const flowProgress = (flow: Flow) => (flow.total ? (flow.total - flow.remaining) / flow.total : 1);

/**
 * Flows: graphs of jobs submitted in one transaction, each node released by the transaction that finishes its last
 * parent (the store's `release`: no polling). This service checks the graph, owns who sees which flow (a USER their
 * own), and follows a flow live.
 */
export class FlowsService<JobRequest, SubmitOptions> {
  constructor(
    private readonly store: JobStore,
    private readonly runner: JobRunner,
    private readonly events: EventBus,
    private readonly submissions: FlowSubmissions<JobRequest, SubmitOptions>,
  ) {
    // Children released or cancelled by a transition, and flows it finished: subscribers hear of them, and a
    // released child is claimed at once.
    store.onFlowChange((change: FlowChange) => {
      for (const job of change.jobs) announce(events, job);
      if (change.jobs.some((job) => job.status === 'QUEUED')) runner.wake();
    });
  }

  async submit(actor: Actor, name: string | null, nodes: FlowNodeRequest<JobRequest>[], options: SubmitOptions): Promise<Flow> {
    requireWriter(actor);
    const parents = parentIndexes(nodes);
    const prepared = this.submissions.prepareJobs(
      actor,
      nodes.map((node) => node.job),
      options,
    );
    const settled = await this.submissions.admit(actor, prepared.length);
    try {
      const { flow, jobs } = await this.store.insertFlow({
        name: name ?? null,
        ownerId: actor.id,
        nodes: prepared.map((job, i) => ({ ...job, key: nodes[i]!.key, parents: parents[i]!, onParentFailure: nodes[i]!.onParentFailure ?? 'CANCEL' })),
      });
      this.submissions.announceInserted(prepared, jobs);
      return flow;
    } finally {
      settled();
    }
  }

  /** The flow if `actor` may see it (a USER their own; other roles all); null otherwise. */
  async find(actor: Actor, id: number): Promise<Flow | null> {
    return (await this.store.flowById(id, actor.role === 'USER' ? actor.id : null)) ?? null;
  }

  async get(actor: Actor, id: number): Promise<Flow> {
    const flow = await this.find(actor, id);
    if (!flow) throw notFound(`no flow with id ${id}`);
    return flow;
  }

  /** Flows `actor` may see, newest first, `limit` of them after the flow `after` (an id). */
  list(actor: Actor, limit: number, after: number | null): Promise<Flow[]> {
    return this.store.listFlows(actor.role === 'USER' ? actor.id : null, after, limit);
  }

  nodes(flow: Flow): Promise<{ jobId: number; key: string; dependsOn: string[] }[]> {
    return this.store.flowNodes(flow.id);
  }

  /** The flows of jobs the caller already sees (the jobs' own rule decided), by job id; a job alone has none. */
  async flowsOfJobs(jobIds: number[]): Promise<Map<number, Flow>> {
    const flowIds = await this.store.flowOfJobs(jobIds);
    const flows = new Map<number, Flow>();
    await Promise.all(
      [...new Set(flowIds.values())].map(async (flowId) => {
        const flow = await this.store.flowById(flowId, null);
        if (flow) flows.set(flowId, flow);
      }),
    );
    return new Map([...flowIds].flatMap(([jobId, flowId]) => (flows.has(flowId) ? [[jobId, flows.get(flowId)!]] : [])));
  }

  /** The parents of jobs, by job id: their ids (the caller reads them as jobs). */
  async parentIdsOf(jobIds: number[]): Promise<Map<number, number[]>> {
    const parents = await this.store.parentsOf(jobIds);
    return new Map([...parents].map(([jobId, list]) => [jobId, list.map((parent) => parent.jobId)]));
  }

  /** Cancels every node not yet final (running ones stopped: their late answers are fenced out); CONFLICT once finished. */
  async cancel(actor: Actor, id: number): Promise<Flow> {
    requireWriter(actor);
    const flow = await this.get(actor, id);
    if (flow.status !== 'RUNNING') throw conflict(`flow ${id} is already ${flow.status}`);
    const cancelled = await this.store.cancelFlow(id, actor.id);
    if (!cancelled) throw conflict(`flow ${id} finished before it could be cancelled`);
    for (const job of cancelled.jobs) {
      this.runner.abort(job.id);
      announce(this.events, job);
    }
    return cancelled.flow;
  }

  /**
   * The flow now, then the flow again after every change of one of its nodes (one frame per change), ending with the
   * frame that shows it finished. NOT_FOUND when `actor` may not see it.
   */
  async watch(actor: Actor, id: number): Promise<AsyncIterable<Flow>> {
    await this.get(actor, id);
    const nodes = await this.store.flowNodes(id);
    return new Repeater<Flow>(async (push, stop) => {
      // Listening before the first read: no change falls between the two.
      const queue: number[] = [];
      let wake: (() => void) | null = null;
      const listeners = nodes.map(({ jobId }) => {
        const updates = this.events.subscribe('jobUpdated', jobId)[Symbol.asyncIterator]();
        void (async () => {
          for (let next = await updates.next(); !next.done; next = await updates.next()) {
            queue.push(jobId);
            // A reader this far behind ends its stream, as the event bus ends any other (see MAX_UNREAD_EVENTS).
            if (queue.length > MAX_UNREAD_EVENTS) return stop(unavailable(`this stream fell more than ${MAX_UNREAD_EVENTS} changes behind its reader and was ended; subscribe again`));
            wake?.();
          }
        })().catch(() => {});
        return updates;
      });
      try {
        let flow = await this.get(actor, id);
        await push(flow);
        while (flow.status === 'RUNNING') {
          if (!queue.length) {
            const stopped = await Promise.race([new Promise<false>((resolve) => (wake = () => resolve(false))), stop.then(() => true)]);
            wake = null;
            if (stopped) return;
            continue;
          }
          queue.shift();
          flow = await this.get(actor, id);
          await push(flow);
        }
      } finally {
        for (const updates of listeners) void updates.return?.();
        stop();
      }
    });
  }
}
