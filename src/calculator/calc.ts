import { z } from 'zod';
import type { BatchOutput } from '../compute/calculator';
import { defineJobKind } from '../kinds/define';
import { runTasks, type RunContext } from '../jobs/kind';

export const MAX_CALC_EXPRESSIONS = 2_000_000;
/** A chunk of this many characters (whole lines) is one pool task: ~20 ms of work, fine-grained progress. */
export const CALC_CHUNK_CHARS = 512 * 1024;

function countLines(text: string): number {
  if (text === '') return 0;
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return text.endsWith('\n') ? lines - 1 : lines;
}

const LIST_OF_STRINGS = 'invalid field expressions: a list of strings';

/** One expression per item; each is one line of the batch (and of the output file). Checked in one pass: lists are long. */
const expressionList = z.custom<unknown[]>((value) => Array.isArray(value), { error: LIST_OF_STRINGS }).transform((items, ctx) => {
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const problem = typeof item !== 'string' ? 'is not a string' : item.includes('\n') ? 'contains a line break' : null;
    if (problem) {
      ctx.addIssue({ code: 'custom', message: `invalid field expressions: item ${i + 1} ${problem}` });
      return z.NEVER;
    }
  }
  const text = items.join('\n');
  // A last empty expression is still a line.
  return items.length > 0 && items[items.length - 1] === '' ? `${text}\n` : text;
});

/**
 * Takes `{ expressions: [...] }` or `{ text }` (a file's content, one expression per line) and stores the
 * expressions as the lines of one text (cheaper to store and ship than a list), with their count.
 */
export const calcInput = z
  .object({ text: z.string().optional().catch(undefined), expressions: expressionList.nullish() })
  .transform(({ text, expressions }, ctx) => {
    const lines = text ?? expressions;
    const fail = (message: string) => {
      ctx.addIssue({ code: 'custom', message, path: ['expressions'] });
      return z.NEVER;
    };
    if (lines === undefined || lines === null) return fail('missing field expressions');
    const count = countLines(lines);
    if (count === 0) return fail('invalid field expressions: no expressions to evaluate');
    if (count > MAX_CALC_EXPRESSIONS) return fail(`invalid field expressions: ${count} lines, at most ${MAX_CALC_EXPRESSIONS}`);
    return { text: lines, count };
  });
export type CalcInput = z.output<typeof calcInput>;

/** A calc job's result: the result file (line i is expression i's value or `error: …`) and its counts. */
export const calcResult = z.object({ count: z.int(), errors: z.int(), output: z.string() });
export type CalcResult = z.output<typeof calcResult>;

/** Cuts the text into about `parts` chunks of whole lines. */
export function chunkLines(text: string, parts: number): string[] {
  const chunks: string[] = [];
  const target = Math.ceil(text.length / parts);
  let start = 0;
  while (start < text.length) {
    let end = start + target >= text.length ? text.length : text.indexOf('\n', start + target);
    end = end === -1 ? text.length : end + 1;
    chunks.push(text.slice(start, end));
    start = end;
  }
  return chunks;
}

/** Joins the chunks' result lines in order. */
export function mergeOutputs(chunks: BatchOutput[], count: number): CalcResult {
  return { count, errors: chunks.reduce((sum, chunk) => sum + chunk.errors, 0), output: chunks.map((chunk) => chunk.output).join('') };
}

/**
 * A batch of expressions, cut into chunks of whole lines (about `chunkChars` each, at least one per worker) over
 * the pool, the outputs joined in order; the job's progress moves as chunks finish.
 */
export function calcKindFor(chunkChars: number) {
  return defineJobKind({
    name: 'calc',
    description: 'A file of calculator expressions, one per line, evaluated in chunks on the pool (submitCalcJob → CalcBatchResult).',
    input: calcInput,
    result: calcResult,
    async run(input, context: RunContext): Promise<CalcResult> {
      const parts = Math.max(context.pool.size, Math.ceil(input.text.length / chunkChars));
      const chunks = await runTasks<BatchOutput>(context, 'calc.evaluate', chunkLines(input.text, parts).map((text) => ({ text })));
      return mergeOutputs(chunks, input.count);
    },
  });
}

export const calcKind = calcKindFor(CALC_CHUNK_CHARS);
