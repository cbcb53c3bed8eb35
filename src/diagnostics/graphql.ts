import { DIAGNOSTIC_BEHAVIORS } from '../compute/diagnostic';
import { builder } from '../graphql/builder';
import { jobOptions, JobType, optionsOf, registerJobResult } from '../jobs/graphql';
import { diagnosticBatch } from './job';

const DiagnosticBehaviorEnum = builder.enumType('DiagnosticBehavior', { values: DIAGNOSTIC_BEHAVIORS });

const DiagnosticResultType = builder.simpleObject('DiagnosticResult', {
  fields: (t) => ({ behavior: t.string(), elapsedMs: t.float() }),
});
registerJobResult('DIAGNOSTIC', DiagnosticResultType);

const DiagnosticJobInput = builder.inputType('DiagnosticJobInput', {
  description: "Jobs that exercise the pool itself: succeed, sleep, throw, kill their worker, or hang until their timeout.",
  fields: (t) => ({
    behavior: t.field({ type: DiagnosticBehaviorEnum, required: true }),
    durationMs: t.int({ defaultValue: 0 }),
    ...jobOptions(t),
  }),
});

builder.mutationFields((t) => ({
  submitDiagnosticJobs: t.withAuth({ admin: true }).field({
    type: [JobType],
    description: 'Admin: submits `count` diagnostic jobs at once (to check the pool, or load it).',
    args: { input: t.arg({ type: DiagnosticJobInput, required: true }), count: t.arg.int({ defaultValue: 1 }) },
    resolve: (_root, { input, count }, ctx) => ctx.jobs.submitMany(ctx.user, 'DIAGNOSTIC', diagnosticBatch(input, count), optionsOf(input)),
  }),
}));
