import { N, type SyntaxTree } from './parser';
import { CalcError } from './tokenizer';

/** Each node's value, by node index; reused from one expression to the next (one per thread). */
let values = new Float64Array(64);

/**
 * Evaluates the tree in IEEE-754 doubles; `/` is true division, `%` the remainder with the dividend's sign.
 * The parser adds every node after its children, so one pass over the node indices is a post-order walk: no
 * recursion (a left-associative chain of 100,000 terms is a tree 100,000 deep), and errors come in the order a
 * recursive walk would meet them.
 */
export function evaluateTree(tree: SyntaxTree): number {
  if (values.length < tree.count) values = new Float64Array(tree.kind.length);
  const { kind, left, right } = tree;
  for (let node = 0; node < tree.count; node++) {
    const nodeKind = kind[node] as N;
    if (nodeKind === N.NUMBER) {
      values[node] = tree.value[node]!;
      continue;
    }
    if (nodeKind === N.NEGATE) {
      values[node] = -values[left[node]!]!;
      continue;
    }
    const a = values[left[node]!]!;
    const b = values[right[node]!]!;
    let value: number;
    switch (nodeKind) {
      case N.ADD: value = a + b; break;
      case N.SUBTRACT: value = a - b; break;
      case N.MULTIPLY: value = a * b; break;
      case N.DIVIDE:
        if (b === 0) throw new CalcError('division by zero', tree.column[node]!);
        value = a / b;
        break;
      case N.REMAINDER:
        if (b === 0) throw new CalcError('modulo by zero', tree.column[node]!);
        value = a % b;
        break;
      default:
        if (a === 0 && b < 0) throw new CalcError('division by zero (0 to a negative power)', tree.column[node]!);
        value = a ** b;
    }
    // The operands are finite, so a non-finite value was made here: say where.
    if (value - value !== 0) {
      throw new CalcError(Number.isNaN(value) ? 'result is not a real number' : 'overflow: result is too large', tree.column[node]!);
    }
    values[node] = value;
  }
  return values[tree.root]!;
}
