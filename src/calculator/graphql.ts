import { evaluateBatch, type BatchResult } from '../compute/calculator';
import { badInput } from '../errors';
import { builder } from '../graphql/builder';
import type { GraphQLContext } from '../graphql/context';
import { batchLoader } from '../graphql/loader';
import { jobOfResult, jobOptions, JobType, optionsOf, registerJobResult } from '../jobs/graphql';
import { calcJob, type CalcResult } from './job';

/** `evaluate` answers at once, so it takes small batches; bigger ones are jobs. */
export const MAX_EVALUATE_EXPRESSIONS = 10_000;
/** Batches up to this many characters are evaluated on the request's thread; longer ones on the pool, so they don't hold up other requests. */
const INLINE_EVALUATE_CHARACTERS = 16_384;

interface Evaluation {
  line: number;
  expression: string;
  value: number | null;
  error: string | null;
}

/** The inputs of the calc jobs whose results a request shows, in one read (a list of jobs is not N reads). */
const calcInputOf = batchLoader((ctx: GraphQLContext, ids: number[]) => ctx.app.jobs.inputsOf(calcJob, ids));

const EvaluationType = builder.simpleObject('Evaluation', {
  description: 'One expression and its value, or why it has none.',
  fields: (t) => ({
    line: t.int({ description: '1-based position in the batch.' }),
    expression: t.string(),
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
      description: 'Per expression, in order; page with `offset` and `limit` (default: all).',
      args: { offset: t.arg.int({ defaultValue: 0 }), limit: t.arg.int() },
      resolve: async (result, { offset, limit }, ctx) => {
        const start = offset ?? 0;
        if (start < 0) throw badInput('offset must be 0 or more', { field: 'offset' });
        if (limit != null && limit < 0) throw badInput('limit must be 0 or more', { field: 'limit' });
        const end = limit == null ? result.count : Math.min(result.count, start + limit);
        const job = jobOfResult(result);
        const input = job ? await calcInputOf(ctx, job.id) : undefined;
        const expressions = input?.text.split('\n') ?? [];
        const outputs = result.output.split('\n');
        const page: Evaluation[] = [];
        for (let i = start; i < end; i++) {
          const output = outputs[i] ?? '';
          const error = output.startsWith('error: ') ? output.slice(7) : null;
          // Values are stored as their shortest round-trip decimal, so Number() gives back the exact double.
          page.push({ line: i + 1, expression: (expressions[i] ?? '').replace(/\r$/, ''), value: error === null ? Number(output) : null, error });
        }
        return page;
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

builder.queryFields((t) => ({
  evaluate: t.field({
    type: [EvaluationType],
    authScopes: { loggedIn: true },
    description: `Evaluates up to ${MAX_EVALUATE_EXPRESSIONS} expressions now, with our own interpreter (submitCalcJob takes more).`,
    args: { expressions: t.arg.stringList({ required: true }) },
    resolve: async (_root, { expressions }, ctx) => {
      if (expressions.length > MAX_EVALUATE_EXPRESSIONS) {
        throw badInput(`evaluate takes at most ${MAX_EVALUATE_EXPRESSIONS} expressions; submit a calc job for more`, { field: 'expressions' });
      }
      const characters = expressions.reduce((sum, expression) => sum + expression.length, 0);
      const { values, errors } =
        characters <= INLINE_EVALUATE_CHARACTERS
          ? evaluateBatch(expressions)
          : await ctx.app.pool.run<BatchResult>('calc.evaluateList', { expressions }, { timeoutMs: ctx.app.config.jobTimeoutMs });
      const messages = new Map(errors);
      return expressions.map((expression, i) => ({
        line: i + 1,
        expression,
        value: messages.has(i) ? null : values[i]!,
        error: messages.get(i) ?? null,
      }));
    },
  }),
}));

builder.mutationFields((t) => ({
  submitCalcJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'Evaluates a batch as a durable job, split into chunks over the worker pool; progress is reported.',
    args: { input: t.arg({ type: CalcJobInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const given = [input.expressions, input.text, input.file].filter((value) => value != null).length;
      if (given !== 1) throw badInput('give exactly one of expressions, text or file', { field: 'expressions' });
      const raw = input.file ? { text: await input.file.text() } : input.text != null ? { text: input.text } : { expressions: input.expressions };
      // The jobs service checks it (parseCalcInput) before anything is stored.
      return ctx.app.jobs.submit(ctx.user, 'CALC', raw, optionsOf(input));
    },
  }),
}));
