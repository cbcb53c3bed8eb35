import { z } from 'zod';
import { type BatchResult, evaluateBatch } from '../compute/calculator';
import { parseInput } from '../input';
import { badInput } from '../errors';
import type { WorkerPool } from '../pool/pool';
import type { CalcInput, CalcResult } from './calc';

/** `evaluate` answers at once, so it takes small batches; bigger ones are jobs. */
export const MAX_EVALUATE_EXPRESSIONS = 10_000;
/** Batches up to this many characters are evaluated on the request's thread; longer ones on the pool, so they don't hold up other requests. */
const INLINE_EVALUATE_CHARACTERS = 16_384;

export interface Evaluation {
  /** 1-based position in the batch. */
  line: number;
  expression: string;
  value: number | null;
  error: string | null;
}

/** A batch comes as a list, a text or a file (a multipart upload), exactly one of them; the calc kind's input schema checks its lines. */
export const calcJobSourceInput = z
  .object({ expressions: z.custom<string[]>((value) => Array.isArray(value)).nullish(), text: z.string().nullish(), file: z.instanceof(File).nullish() })
  .refine((source) => [source.expressions, source.text, source.file].filter((given) => given != null).length === 1, {
    error: 'give exactly one of expressions, text or file',
    path: ['expressions'],
  });

/** What the calc kind's input schema takes, from whichever source was given (a file is read here). */
export async function calcJobSource(source: z.input<typeof calcJobSourceInput>): Promise<{ text: string } | { expressions: string[] }> {
  const { expressions, text, file } = parseInput(calcJobSourceInput, source);
  if (file) return { text: await file.text() };
  return text != null ? { text } : { expressions: expressions! };
}

export const evaluateInput = z.object({
  expressions: z
    .array(z.string(), { error: 'invalid field expressions: a list of strings' })
    .max(MAX_EVALUATE_EXPRESSIONS, { error: `evaluate takes at most ${MAX_EVALUATE_EXPRESSIONS} expressions; submit a calc job for more` }),
});

/** Expressions evaluated now (no job): small batches inline, longer ones on the pool. */
export class CalculatorService {
  constructor(
    private readonly pool: Pick<WorkerPool, 'run'>,
    private readonly timeoutMs: number,
  ) {}

  async evaluate(expressions: unknown): Promise<Evaluation[]> {
    const input = parseInput(evaluateInput, { expressions });
    const characters = input.expressions.reduce((sum, expression) => sum + expression.length, 0);
    const { values, errors } =
      characters <= INLINE_EVALUATE_CHARACTERS
        ? evaluateBatch(input.expressions)
        : await this.pool.run<BatchResult>('calc.evaluateList', { expressions: input.expressions }, { timeoutMs: this.timeoutMs });
    const messages = new Map(errors);
    return input.expressions.map((expression, i) => ({
      line: i + 1,
      expression,
      value: messages.has(i) ? null : values[i]!,
      error: messages.get(i) ?? null,
    }));
  }
}

const atLeastZero = (field: string) => z.int({ error: `${field} must be 0 or more` }).min(0, { error: `${field} must be 0 or more` }).nullish();
export const resultPageInput = z.object({ offset: atLeastZero('offset').transform((offset) => offset ?? 0), limit: atLeastZero('limit') });

/** Most result lines one `results` page may hold: a page is built and sent in one go on the event loop. */
export const MAX_RESULTS_PAGE = 5_000;

/**
 * Lines `offset`… of a calc job's result (all from `offset` when `limit` is absent — as long as that is at most
 * MAX_RESULTS_PAGE lines; bigger results are paged, or read whole as `output`), each beside its expression.
 */
export function resultPage(result: CalcResult, input: CalcInput | undefined, paging: { offset?: number | null; limit?: number | null }): Evaluation[] {
  const { offset, limit } = parseInput(resultPageInput, paging);
  if (limit != null && limit > MAX_RESULTS_PAGE) {
    throw badInput(`limit must be at most ${MAX_RESULTS_PAGE.toLocaleString('en-US')}`, { field: 'limit', max: MAX_RESULTS_PAGE });
  }
  if (limit == null && result.count - offset > MAX_RESULTS_PAGE) {
    throw badInput(
      `this result has ${(result.count - offset).toLocaleString('en-US')} lines from offset ${offset}; ask for at most ${MAX_RESULTS_PAGE.toLocaleString('en-US')} at a time with limit, or read output`,
      { field: 'limit', max: MAX_RESULTS_PAGE },
    );
  }
  const end = limit == null ? result.count : Math.min(result.count, offset + limit);
  const expressions = input?.text.split('\n') ?? [];
  const outputs = result.output.split('\n');
  const page: Evaluation[] = [];
  for (let i = offset; i < end; i++) {
    const output = outputs[i] ?? '';
    const error = output.startsWith('error: ') ? output.slice(7) : null;
    // Values are stored as their shortest round-trip decimal, so Number() gives back the exact double.
    page.push({ line: i + 1, expression: (expressions[i] ?? '').replace(/\r$/, ''), value: error === null ? Number(output) : null, error });
  }
  return page;
}
