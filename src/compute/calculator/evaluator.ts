import { N, type SyntaxTree } from './parser';
import { CalcError } from './tokenizer';

/** Tree-walk evaluation in IEEE-754 doubles; `/` is true division, `%` the remainder with the dividend's sign. */
export function evaluateNode(tree: SyntaxTree, node: number): number {
  const kind = tree.kind[node] as N;
  if (kind === N.NUMBER) return tree.value[node]!;
  if (kind === N.NEGATE) return -evaluateNode(tree, tree.left[node]!);
  const left = evaluateNode(tree, tree.left[node]!);
  const right = evaluateNode(tree, tree.right[node]!);
  let value: number;
  switch (kind) {
    case N.ADD: value = left + right; break;
    case N.SUBTRACT: value = left - right; break;
    case N.MULTIPLY: value = left * right; break;
    case N.DIVIDE:
      if (right === 0) throw new CalcError('division by zero', tree.column[node]!);
      value = left / right;
      break;
    case N.REMAINDER:
      if (right === 0) throw new CalcError('modulo by zero', tree.column[node]!);
      value = left % right;
      break;
    default:
      if (left === 0 && right < 0) throw new CalcError('division by zero (0 to a negative power)', tree.column[node]!);
      value = left ** right;
  }
  // The operands are finite, so a non-finite value was made here: say where.
  if (value - value !== 0) {
    throw new CalcError(Number.isNaN(value) ? 'result is not a real number' : 'overflow: result is too large', tree.column[node]!);
  }
  return value;
}

export const evaluateTree = (tree: SyntaxTree) => evaluateNode(tree, tree.root);
