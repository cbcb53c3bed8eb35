import { z } from 'zod';
import { defineJobKind } from '../kinds/define';
import { ANALYTICS_QUERIES, type AnalyticsService, STATE_QUERIES, yearInput } from './service';

/** The input's shape; whether the question and state exist is checked against the dataset (checkJobInput) and when it runs. */
export const analyticsInput = z
  .object({
    query: z.enum(ANALYTICS_QUERIES, { error: `invalid field query: one of ${ANALYTICS_QUERIES.join(', ')}` }),
    question: z.string({ error: 'missing field question' }).min(1, { error: 'missing field question' }),
    state: z.unknown(),
    yearFrom: yearInput('yearFrom'),
    yearTo: yearInput('yearTo'),
  })
  .transform(({ query, question, state, yearFrom, yearTo }, ctx) => {
    const input: { query: typeof query; question: string; state?: string; yearFrom?: number; yearTo?: number } = { query, question };
    // Only the STATE_ queries take a state, and they need one.
    if (STATE_QUERIES.has(query)) {
      if (typeof state !== 'string' || state === '') {
        ctx.addIssue({ code: 'custom', message: `missing field state (${query} needs one)`, path: ['state'] });
        return z.NEVER;
      }
      input.state = state;
    }
    if (yearFrom !== undefined && yearFrom !== null) input.yearFrom = yearFrom;
    if (yearTo !== undefined && yearTo !== null) input.yearTo = yearTo;
    return input;
  });
export type AnalyticsInput = z.output<typeof analyticsInput>;

/** The source's job result: which query, and `data` in the exact JSON shape the source answered. */
export const analyticsResult = z.object({
  query: z.enum(ANALYTICS_QUERIES),
  question: z.string(),
  state: z.string().nullish(),
  yearFrom: z.int().nullish(),
  yearTo: z.int().nullish(),
  data: z.record(z.string(), z.unknown()),
});
export type AnalyticsResult = z.output<typeof analyticsResult>;

/** One statistic of the dataset as a job. It reads the in-memory index (microseconds), so it never crosses to a worker. */
export const analyticsKindFor = (analytics: AnalyticsService) =>
  defineJobKind({
  name: 'analytics',
  description: 'One statistic of the CDC dataset, kept as a durable answer (submitAnalyticsJob → AnalyticsResult).',
  input: analyticsInput,
  result: analyticsResult,
  run: async (input): Promise<AnalyticsResult> => ({
    ...input,
    data: analytics.answer(input.query, input.question, input.state, analytics.checkYears(input.yearFrom, input.yearTo)),
  }),
});
