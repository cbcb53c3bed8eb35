import type { KernelContext } from '../kernel';
import { evaluateBatch, evaluateToText, splitLines } from './index';

/**
 * The worker kernel of a calc job: one chunk of the input file's text (whole lines) in, the matching lines of the
 * result file out. One string each way crosses the worker boundary (and later SQLite) far faster than arrays of
 * 100,000 values, and the formatting is done in parallel too.
 */
export function evaluateChunk(input: { text: string }, context: KernelContext) {
  return evaluateToText(splitLines(input.text), (fraction) => context.progress(fraction));
}

/** The worker kernel of a big `evaluate` request: the values and errors of a list of expressions. */
export function evaluateList(input: { expressions: string[] }) {
  return evaluateBatch(input.expressions);
}
