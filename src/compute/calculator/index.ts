// The calculator: our own interpreter (tokenizer → parser → AST → tree-walk evaluator). No eval, no Function.
import { evaluateTree } from './evaluator';
import { Parser } from './parser';
import { CalcError } from './tokenizer';

export { CalcError, tokenize } from './tokenizer';
export { parse, type Expression } from './parser';

export type Evaluation = { value: number; error: null } | { value: null; error: string };

/** One interpreter per thread: its token and node buffers are reused by every expression. */
const parser = new Parser();

/** Evaluates one expression; every failure is a per-expression error, never a throw. */
export function evaluateExpression(source: string): Evaluation {
  try {
    return { value: evaluateTree(parser.parse(source)), error: null };
  } catch (error) {
    if (error instanceof CalcError) return { value: null, error: error.message };
    throw error;
  }
}

/** The results of a batch: `values[i]` is NaN where `errors` has an entry for expression i. */
export interface BatchResult {
  values: Float64Array;
  errors: Array<[index: number, message: string]>;
}

/** Splits a file's text into lines (`\n` or `\r\n`; a final newline does not start another line). */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Evaluates every expression of a batch, in order; `onProgress` hears the fraction done now and then. */
export function evaluateBatch(expressions: readonly string[], onProgress?: (fraction: number) => void): BatchResult {
  const values = new Float64Array(expressions.length);
  const errors: BatchResult['errors'] = [];
  for (let i = 0; i < expressions.length; i++) {
    try {
      values[i] = evaluateTree(parser.parse(expressions[i]!));
    } catch (error) {
      if (!(error instanceof CalcError)) throw error;
      values[i] = NaN;
      errors.push([i, error.message]);
    }
    if (onProgress && (i & 0x3fff) === 0x3fff) onProgress((i + 1) / expressions.length);
  }
  return { values, errors };
}

/** A batch's results as the lines of a result file, and how many of them are errors. */
export interface BatchOutput {
  /** One line per expression, each ending in `\n`: the value as the shortest round-trip decimal, or `error: …`. */
  output: string;
  errors: number;
}

/** Evaluates a batch straight to its result file's lines (what a calc job stores and the CLI writes). */
export function evaluateToText(expressions: readonly string[], onProgress?: (fraction: number) => void): BatchOutput {
  const { values, errors } = evaluateBatch(expressions, onProgress);
  const lines = Array.from(values, String);
  for (const [index, message] of errors) lines[index] = `error: ${message}`;
  return { output: lines.length ? `${lines.join('\n')}\n` : '', errors: errors.length };
}
