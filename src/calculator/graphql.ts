import { builder } from '../graphql/builder';
import type { GraphQLContext } from '../graphql/context';
import { batchLoader } from '../graphql/loader';
import { jobOfResult, jobOptions, JobType, optionsOf, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import { calcKind, type CalcResult } from './calc';
import { calcJobSource, MAX_EVALUATE_EXPRESSIONS, resultPage } from './service';

/** The inputs of the calc jobs whose results a request shows, in one read (a list of jobs is not N reads). */
const calcInputOf = batchLoader((ctx: GraphQLContext, ids: number[]) => ctx.jobs.inputsOf(calcKind, ids));

const EvaluationType = builder.simpleObject('Evaluation', {
  description: 'One expression and its value, or why it has none.',
  fields: (t) => ({
    line: t.int({ description: '1-based position in the batch.' }),
    expression: t.string({ description: 'The expression as given.' }),
    value: t.float({ nullable: true, description: 'Null when `error` is set.' }),
    error: t.string({ nullable: true, description: 'Names the column, e.g. `division by zero at column 7`.' }),
  }),
});

export const CalcBatchResultType = builder.objectRef<CalcResult>('CalcBatchResult').implement({
  description: 'The result of a calc job: one value or error per input line, in input order.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    count: t.exposeInt('count', { description: 'Expressions evaluated.' }),
    errors: t.exposeInt('errors', { description: 'How many of them failed.' }),
    results: t.field({
      type: [EvaluationType],
      description: 'Per expression, in order; page with `offset` and `limit` (at most 5,000 lines a page; without `limit`, all lines from `offset` when they are at most 5,000).',
      args: {
        offset: t.arg.int({ defaultValue: 0, description: 'Lines to skip from the start (0-based): the page starts at line offset + 1.' }),
        limit: t.arg.int({ description: 'Most lines in the page: 0 to 5,000; past that is BAD_USER_INPUT naming the maximum.' }),
      },
      resolve: async (result, page, ctx) => {
        const job = jobOfResult(result);
        return resultPage(result, job ? await calcInputOf(ctx, job.id) : undefined, page);
      },
    }),
    output: t.exposeString('output', {
      description: 'The result file: one line per expression — the value (shortest round-trip decimal) or `error: …`.',
    }),
  }),
});
registerJobResult('CALC', CalcBatchResultType);

const CalcJobInput = builder.inputType('CalcJobInput', {
  description: 'Exactly one of `expressions`, `text` or `file`. For big batches `file` (multipart upload) is fastest.',
  fields: (t) => ({
    expressions: t.stringList({ description: 'One expression per item.' }),
    text: t.string({ description: 'One expression per line.' }),
    file: t.field({ type: 'File', description: 'A text file, one expression per line (GraphQL multipart request).' }),
    ...jobOptions(t),
  }),
});

// submitJobs takes the same input as `{ calc: … }`.
registerJobSubmission({ field: 'calc', type: CalcJobInput, toRequest: async (input) => ({ kind: 'CALC', input: await calcJobSource(input) }) });

builder.queryFields((t) => ({
  evaluate: t.field({
    type: [EvaluationType],
    authScopes: { loggedIn: true },
    description: `Evaluates up to ${MAX_EVALUATE_EXPRESSIONS} expressions now, with our own interpreter (submitCalcJob takes more).`,
    args: {
      expressions: t.arg.stringList({ required: true, description: `Up to ${MAX_EVALUATE_EXPRESSIONS} expressions (numbers, + - * / ^ %, parentheses); each answered in order with its value or error.` }),
    },
    resolve: (_root, { expressions }, ctx) => ctx.calculator.evaluate(expressions),
  }),
}));

builder.mutationFields((t) => ({
  submitCalcJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'Evaluates a batch as a durable job, split into chunks over the worker pool; progress is reported.',
    args: { input: t.arg({ type: CalcJobInput, required: true, description: 'The expressions (a list, text or an uploaded file), and where and how the job runs.' }) },
    // The calc kind's input schema checks the batch before anything is stored.
    resolve: async (_root, { input }, ctx) => ctx.jobs.submit(ctx.user, 'CALC', await calcJobSource(input), optionsOf(input)),
  }),
}));
