import { DIAGNOSTIC_BEHAVIORS } from '../compute/diagnostic';
import { builder, describedValues } from '../graphql/builder';
import { forbiddenFor } from '../errors';
import { jobOptions, JobType, optionsOf, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import { diagnosticBatch } from './diagnostic';

const DiagnosticBehaviorEnum = builder.enumType('DiagnosticBehavior', {
  description: 'What a diagnostic job’s task does on its worker.',
  values: describedValues(DIAGNOSTIC_BEHAVIORS, {
    SUCCEED: 'Returns at once.',
    SLEEP: 'Waits `durationMs`, reporting progress, then returns.',
    THROW: 'Throws: the attempt fails and the job retries until it is out of attempts.',
    EXIT: 'Ends its worker thread: the pool replaces the worker and the attempt fails.',
    HANG: 'Never returns: the task times out (`timeoutSeconds`), its worker is replaced.',
  }),
});

const DiagnosticResultType = builder.simpleObject('DiagnosticResult', {
  description: 'What a diagnostic job did.',
  fields: (t) => ({
    behavior: t.string({ description: 'The behavior it was asked for.' }),
    elapsedMs: t.float({ description: 'How long its task ran on the worker.' }),
  }),
});
registerJobResult('DIAGNOSTIC', DiagnosticResultType);

const DiagnosticJobInput = builder.inputType('DiagnosticJobInput', {
  description: "Jobs that exercise the pool itself: succeed, sleep, throw, kill their worker, or hang until their timeout.",
  fields: (t) => ({
    behavior: t.field({ type: DiagnosticBehaviorEnum, required: true, description: 'What the task does.' }),
    durationMs: t.int({ defaultValue: 0, description: 'How long SLEEP waits.' }),
    ...jobOptions(t),
  }),
});

// In bulk, in flows and on schedules too: admins only, as submitDiagnosticJobs.
registerJobSubmission({
  field: 'diagnostic',
  type: DiagnosticJobInput,
  toRequest: (input, ctx) => {
    if (ctx.user.role !== 'ADMIN') throw forbiddenFor(['ADMIN']);
    return { kind: 'DIAGNOSTIC', input: diagnosticBatch(input, 1)[0] };
  },
});

builder.mutationFields((t) => ({
  submitDiagnosticJobs: t.withAuth({ admin: true }).field({
    type: [JobType],
    description: 'Admin: submits `count` diagnostic jobs at once (to check the pool, or load it).',
    args: {
      input: t.arg({ type: DiagnosticJobInput, required: true, description: 'What each job does, and where and how it runs.' }),
      count: t.arg.int({ defaultValue: 1, description: 'How many identical jobs to submit, 1..10,000, in one transaction.' }),
    },
    resolve: (_root, { input, count }, ctx) => ctx.jobs.submitMany(ctx.user, 'DIAGNOSTIC', diagnosticBatch(input, count), optionsOf(input)),
  }),
}));
