// Flows on the API: a graph of jobs in one mutation, read, cancelled and followed live (src/jobs/flows.ts).
import { resolveCursorConnection } from '@pothos/plugin-relay';
import { FLOW_STATUSES, type Flow, PARENT_FAILURE_POLICIES } from '../db/schema';
import { badInput } from '../errors';
import { builder, describedValues } from '../graphql/builder';
import { checkPaging, parseId } from '../graphql/ids';
import { connectionComplexity } from '../graphql/limits';
import { jobRequestOf, JobSubmission, JobType, optionsOf, SubmitJobsOptions } from '../jobs/graphql';
import { atIndex, type JobRequest } from '../jobs/service';
import type { GraphQLContext, SignedInContext } from '../graphql/context';
import { flowProgress, MAX_FLOW_NODES } from '../jobs/flows';
import { batchLoader } from '../graphql/loader';

// A flow names up to 10,000 jobs: its nodes' jobs, their parents and flows are read a level at a time, in one
// read each, not one per node.
const visibleJob = batchLoader((ctx: GraphQLContext, ids: number[]) => ctx.jobs.visibleByIds(ctx.user!, ids));
const flowOfJob = batchLoader((ctx: GraphQLContext, ids: number[]) => ctx.jobs.flows.flowsOfJobs(ids));
const parentIdsOf = batchLoader((ctx: GraphQLContext, ids: number[]) => ctx.jobs.flows.parentIdsOf(ids));

/** A job the caller may see; NOT_FOUND (as `ctx.jobs.get` says it) otherwise. */
const jobFor = async (ctx: GraphQLContext, id: number) => (await visibleJob(ctx, id)) ?? ctx.jobs.get(ctx.user!, id);

const ParentFailureEnum = builder.enumType('ParentFailure', {
  description: 'What a flow node does when one of its parents fails or is cancelled.',
  values: describedValues(PARENT_FAILURE_POLICIES, {
    CANCEL: 'The node is cancelled (and, through it, its own CANCEL children).',
    RUN: 'The node runs anyway once every parent has finished; a parent that did not succeed gives it null as its result.',
  }),
});

const FlowStatusEnum = builder.enumType('FlowStatus', {
  description: 'Where a flow is: RUNNING until every node is final.',
  values: describedValues(FLOW_STATUSES, {
    RUNNING: 'Some node has not finished.',
    SUCCEEDED: 'Every node succeeded.',
    FAILED: 'Every node finished, and at least one did not succeed.',
    CANCELLED: 'Stopped by cancelFlow.',
  }),
});

interface FlowNodeView {
  key: string;
  dependsOn: string[];
  jobId: number;
}

const FlowNodeType = builder.objectRef<FlowNodeView>('FlowNode').implement({
  description: 'One node of a flow: its key, the keys it waits for, and its job.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The key given at submission (unique in its flow).' }),
    dependsOn: t.exposeStringList('dependsOn', { description: 'The keys of its parents: it runs once they have all finished.' }),
    job: t.field({
      type: JobType,
      description: 'The job that runs this node.',
      // The flow was already checked as the caller's: its nodes' jobs are theirs too.
      resolve: (node, _args, ctx) => jobFor(ctx, node.jobId),
    }),
  }),
});

export const FlowType = builder.objectRef<Flow>('Flow').implement({
  description: 'A graph of jobs submitted together (submitFlow). Users see only their own flows.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    id: t.id({ description: 'What flow, cancelFlow and flowUpdated take.', resolve: (flow) => flow.id }),
    name: t.string({ nullable: true, description: 'The name given at submission.', resolve: (flow) => flow.name }),
    status: t.field({ type: FlowStatusEnum, description: 'Where it is.', resolve: (flow) => flow.status }),
    progress: t.float({ description: 'The share of its nodes that have finished, 0 to 1.', resolve: (flow) => flowProgress(flow) }),
    nodes: t.field({
      type: [FlowNodeType],
      description: 'Its nodes, in submission order.',
      resolve: (flow, _args, ctx) => ctx.jobs.flows.nodes(flow),
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was submitted.', resolve: (flow) => flow.createdAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, description: 'When its last node finished; null until then.', resolve: (flow) => flow.finishedAt }),
  }),
});

const FlowNodeInput = builder.inputType('FlowNodeInput', {
  description: 'One node of submitFlow.',
  fields: (t) => ({
    key: t.string({ required: true, description: 'Unique in the flow; what other nodes name in dependsOn (1 to 200 characters).' }),
    job: t.field({ type: JobSubmission, required: true, description: 'The job, as an item of submitJobs.' }),
    dependsOn: t.stringList({ defaultValue: [], description: 'Keys of the nodes it waits for.' }),
    onParentFailure: t.field({ type: ParentFailureEnum, defaultValue: 'CANCEL', description: 'What a parent that fails or is cancelled does to it.' }),
  }),
});

const SubmitFlowInput = builder.inputType('SubmitFlowInput', {
  description: 'A flow to submit.',
  fields: (t) => ({
    name: t.string({ description: 'A name to find it by (at most 200 characters).' }),
    nodes: t.field({ type: [FlowNodeInput], required: true, description: `Its nodes, at most ${MAX_FLOW_NODES.toLocaleString('en-US')}.` }),
    options: t.field({ type: SubmitJobsOptions, description: 'Queue, priority, attempts and timeout for every node that does not set its own.' }),
  }),
});

/** The nodes' jobs as requests, each converted as its single submit does; an error names the node's index. */
async function jobRequestsOf(items: readonly object[], ctx: SignedInContext): Promise<JobRequest[]> {
  return Promise.all(
    items.map(async (item, index) => {
      try {
        return await jobRequestOf(item, ctx);
      } catch (error) {
        throw atIndex(index, error);
      }
    }),
  );
}

builder.queryFields((t) => ({
  flow: t.withAuth({ loggedIn: true }).field({
    type: FlowType,
    nullable: true,
    description: 'One flow by id; null when it does not exist or is another user’s.',
    args: { id: t.arg.id({ required: true, description: 'The flow’s id.' }) },
    resolve: (_root, { id }, ctx) => ctx.jobs.flows.find(ctx.user, parseId(id, 'flow')),
  }),
  flows: t.withAuth({ loggedIn: true }).connection(
    {
      type: FlowType,
      description: 'Flows, newest first (forward pages: `first`, `after`). Users see only their own.',
      complexity: connectionComplexity,
      resolve: (_root, args, ctx) => {
        checkPaging(args);
        if (args.last != null || args.before != null) throw badInput('flows pages forward only: use first and after', { field: 'last' });
        return resolveCursorConnection<Promise<Flow[]>>({ args, toCursor: (flow) => String(flow.id) }, ({ after, limit }) =>
          ctx.jobs.flows.list(ctx.user, limit, after ? parseId(after, 'flow cursor') : null),
        );
      },
    },
    { name: 'FlowConnection', description: 'A page of flows.' },
    { name: 'FlowEdge', description: 'One flow of a page, with its cursor.' },
  ),
}));

builder.mutationFields((t) => ({
  submitFlow: t.withAuth({ loggedIn: true }).field({
    type: FlowType,
    description: `Submits a graph of up to ${MAX_FLOW_NODES.toLocaleString('en-US')} jobs in one transaction, all or none. A node runs once all its parents have finished (as its onParentFailure allows), and its kind receives their results by key. A cycle, an unknown or a duplicate key is BAD_USER_INPUT naming the key. Cost as submitJobs.`,
    args: { input: t.arg({ type: SubmitFlowInput, required: true, description: 'The flow.' }) },
    complexity: (args) => ({ field: 1 + Math.ceil(args.input.nodes.length / 10), multiplier: 1 }),
    resolve: async (_root, { input }, ctx) => {
      if (input.nodes.length > MAX_FLOW_NODES) throw badInput(`a flow has at most ${MAX_FLOW_NODES.toLocaleString('en-US')} nodes; got ${input.nodes.length}`, { field: 'nodes' });
      if (input.name != null && input.name.length > 200) throw badInput('name is at most 200 characters', { field: 'name' });
      const requests = await jobRequestsOf(
        input.nodes.map((node) => node.job),
        ctx,
      );
      const nodes = input.nodes.map((node, i) => ({ key: node.key, job: requests[i]!, dependsOn: node.dependsOn, onParentFailure: node.onParentFailure }));
      return ctx.jobs.flows.submit(ctx.user, input.name ?? null, nodes, input.options ? optionsOf(input.options) : {});
    },
  }),
  cancelFlow: t.withAuth({ loggedIn: true }).field({
    type: FlowType,
    description: 'Cancels every node of a RUNNING flow that has not finished (running ones stopped); the flow becomes CANCELLED. A finished flow is a CONFLICT.',
    args: { id: t.arg.id({ required: true, description: 'The flow to cancel.' }) },
    resolve: (_root, { id }, ctx) => ctx.jobs.flows.cancel(ctx.user, parseId(id, 'flow')),
  }),
}));

builder.subscriptionFields((t) => ({
  flowUpdated: t.withAuth({ loggedIn: true }).field({
    type: FlowType,
    description: 'The flow now, then again after every change of one of its nodes; completes once the flow has finished.',
    args: { id: t.arg.id({ required: true, description: 'The flow to follow; one the caller may see.' }) },
    subscribe: (_root, { id }, ctx) => ctx.jobs.flows.watch(ctx.user, parseId(id, 'flow')),
    resolve: (flow: Flow) => flow,
  }),
}));

builder.objectFields(JobType, (t) => ({
  flow: t.field({
    type: FlowType,
    nullable: true,
    description: 'The flow this job is a node of; null for a job submitted alone.',
    resolve: async (job, _args, ctx) => (await flowOfJob(ctx, job.id)) ?? null,
  }),
  parents: t.field({
    type: [JobType],
    description: 'The jobs this one waited for (a flow node’s parents); empty for a job submitted alone.',
    resolve: async (job, _args, ctx) => {
      const ids = (await parentIdsOf(ctx, job.id)) ?? [];
      return Promise.all(ids.map((id) => jobFor(ctx, id)));
    },
  }),
}));
