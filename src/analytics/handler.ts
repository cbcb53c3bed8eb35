import { badInput } from '../errors';
import { isObject, requireShape, type JobHandler } from '../jobs/handler';
import { ANALYTICS_QUERIES, STATE_QUERIES, type AnalyticsQuery } from './service';

export interface AnalyticsInput {
  query: AnalyticsQuery;
  question: string;
  state?: string;
  yearFrom?: number;
  yearTo?: number;
}

/** The source's job result: which query, and `data` in the exact JSON shape the source answered. */
export interface AnalyticsResult extends AnalyticsInput {
  data: unknown;
}

/** The input's shape; whether the question and state exist is checked against the dataset when it runs. */
export function parseAnalyticsInput(raw: Record<string, unknown>): AnalyticsInput {
  const query = raw.query as AnalyticsQuery;
  if (!ANALYTICS_QUERIES.includes(query)) throw badInput(`invalid field query: one of ${ANALYTICS_QUERIES.join(', ')}`, { field: 'query' });
  if (typeof raw.question !== 'string' || raw.question === '') throw badInput('missing field question', { field: 'question' });
  const input: AnalyticsInput = { query, question: raw.question };
  if (STATE_QUERIES.has(query)) {
    if (typeof raw.state !== 'string' || raw.state === '') throw badInput(`missing field state (${query} needs one)`, { field: 'state' });
    input.state = raw.state;
  }
  for (const field of ['yearFrom', 'yearTo'] as const) {
    const year = raw[field];
    if (year === undefined || year === null) continue;
    if (!Number.isInteger(year)) throw badInput(`invalid field ${field}: a year from 1900 to 2100`, { field });
    input[field] = year as number;
  }
  return input;
}

export const analyticsHandler: JobHandler<AnalyticsInput, AnalyticsResult> = {
  parseInput: parseAnalyticsInput,
  // A lookup in the in-memory index (microseconds): no reason to cross to a worker.
  run: async (input, { analytics }) => ({
    ...input,
    data: analytics.answer(input.query, input.question, input.state, analytics.checkYears(input.yearFrom, input.yearTo)),
  }),
  parseResult: (raw) =>
    requireShape(raw, {
      query: (v) => ANALYTICS_QUERIES.includes(v as AnalyticsQuery),
      question: (v) => typeof v === 'string',
      data: isObject,
    }) as unknown as AnalyticsResult,
};
