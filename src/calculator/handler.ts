import type { BatchOutput } from '../compute/calculator';
import { badInput } from '../errors';
import { fanOut, isInteger, requireShape, type JobHandler } from '../jobs/handler';

/** A calc job's input as stored: the expressions as the lines of one text (cheaper to store and ship than a list). */
export interface CalcInput {
  text: string;
  count: number;
}

/** A calc job's result: the result file (line i is expression i's value or `error: …`) and its counts. */
export interface CalcResult {
  count: number;
  errors: number;
  output: string;
}

export const MAX_CALC_EXPRESSIONS = 2_000_000;
/** A chunk of this many characters (whole lines) is one pool task: ~20 ms of work, fine-grained progress. */
const CHUNK_CHARS = 512 * 1024;

function countLines(text: string): number {
  if (text === '') return 0;
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return text.endsWith('\n') ? lines - 1 : lines;
}

/** Takes `{ expressions: [...] }` (each one line) or `{ text }` (a file's content, one expression per line). */
export function parseCalcInput(raw: Record<string, unknown>): CalcInput {
  let text: string;
  if (typeof raw.text === 'string') text = raw.text;
  else if (raw.expressions !== undefined && raw.expressions !== null) {
    const { expressions } = raw;
    if (!Array.isArray(expressions)) throw badInput('invalid field expressions: a list of strings', { field: 'expressions' });
    for (let i = 0; i < expressions.length; i++) {
      const expression = expressions[i];
      if (typeof expression !== 'string') throw badInput(`invalid field expressions: item ${i + 1} is not a string`, { field: 'expressions' });
      // One expression is one line of the batch (and of the output file).
      if (expression.includes('\n')) throw badInput(`invalid field expressions: item ${i + 1} contains a line break`, { field: 'expressions' });
    }
    text = expressions.join('\n');
    if (expressions.length > 0 && expressions[expressions.length - 1] === '') text += '\n';
  } else throw badInput('missing field expressions', { field: 'expressions' });
  const count = countLines(text);
  if (count === 0) throw badInput('invalid field expressions: no expressions to evaluate', { field: 'expressions' });
  if (count > MAX_CALC_EXPRESSIONS) throw badInput(`invalid field expressions: ${count} lines, at most ${MAX_CALC_EXPRESSIONS}`, { field: 'expressions' });
  return { text, count };
}

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

export const calcHandler: JobHandler<CalcInput, CalcResult> = {
  parseInput: parseCalcInput,
  async run(input, context) {
    const parts = Math.max(context.pool.size, Math.ceil(input.text.length / CHUNK_CHARS));
    const chunks = await fanOut<BatchOutput>(context, 'calc.evaluate', chunkLines(input.text, parts).map((text) => ({ text })));
    return mergeOutputs(chunks, input.count);
  },
  parseResult: (raw) =>
    requireShape(raw, {
      count: isInteger,
      errors: isInteger,
      output: (v) => typeof v === 'string',
    }) as unknown as CalcResult,
};
