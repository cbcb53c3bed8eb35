import { CalcError, resized, T, TokenBuffer, tokenizeInto } from './tokenizer';

/** AST node kinds. */
export const enum N {
  NUMBER = 1,
  NEGATE,
  ADD,
  SUBTRACT,
  MULTIPLY,
  DIVIDE,
  REMAINDER,
  POWER,
}

/**
 * The abstract syntax tree of one expression, its nodes in parallel typed arrays (children by index), reused
 * between expressions. `root` is the index of the top node. A node is added after its children, left before
 * right, so the indices run in post-order (evaluateTree and parse rely on it).
 */
export class SyntaxTree {
  count = 0;
  root = -1;
  kind = new Uint8Array(64);
  left = new Int32Array(64);
  right = new Int32Array(64);
  value = new Float64Array(64);
  /** 1-based column of the node's operator (or number), for error messages. */
  column = new Int32Array(64);

  add(kind: N, left: number, right: number, value: number, column: number): number {
    if (this.count === this.kind.length) this.grow();
    const i = this.count++;
    this.kind[i] = kind;
    this.left[i] = left;
    this.right[i] = right;
    this.value[i] = value;
    this.column[i] = column;
    return i;
  }

  private grow(): void {
    const size = this.kind.length * 2;
    this.kind = resized(this.kind, size);
    this.left = resized(this.left, size);
    this.right = resized(this.right, size);
    this.value = resized(this.value, size);
    this.column = resized(this.column, size);
  }
}

const BINARY: Partial<Record<T, N>> = {
  [T.PLUS]: N.ADD, [T.MINUS]: N.SUBTRACT, [T.STAR]: N.MULTIPLY, [T.SLASH]: N.DIVIDE, [T.PERCENT]: N.REMAINDER, [T.CARET]: N.POWER,
};

/** Deeper nesting than this is refused (and keeps the recursion far from the stack limit). */
export const MAX_NESTING = 256;
/** Longer expressions are refused before any work: they bound the token and node buffers a thread keeps. */
export const MAX_EXPRESSION_LENGTH = 1_000_000;

/**
 * Recursive descent over the tokens, building the tree. Grammar, loosest binding first:
 *
 *   sum      := product (('+' | '-') product)*        left-associative
 *   product  := unary (('*' | '/' | '%') unary)*       left-associative
 *   unary    := ('-' | '+') unary | power              so -2^2 = -(2^2), as in mathematics
 *   power    := primary ('^' unary)?                   right-associative: 2^3^2 = 2^(3^2); 2^-1 allowed
 *   primary  := number | '(' sum ')'
 */
export class Parser {
  private position = 0;
  private depth = 0;

  constructor(
    private readonly tokens: TokenBuffer = new TokenBuffer(),
    private readonly tree: SyntaxTree = new SyntaxTree(),
  ) {}

  parse(source: string): SyntaxTree {
    if (source.length > MAX_EXPRESSION_LENGTH) {
      throw new CalcError(`expression is longer than ${MAX_EXPRESSION_LENGTH.toLocaleString('en-US')} characters`, 0);
    }
    const tokens = tokenizeInto(source, this.tokens);
    this.tree.count = 0;
    this.position = 0;
    this.depth = 0;
    if (tokens.count === 1) throw new CalcError('empty expression', 0);
    this.tree.root = this.sum();
    const rest = this.position;
    if (tokens.type[rest] !== T.END) throw this.unexpected(rest, tokens.type[rest] === T.RPAREN ? `unmatched ')'` : undefined);
    return this.tree;
  }

  private unexpected(index: number, reason?: string): CalcError {
    const tokens = this.tokens;
    const type = tokens.type[index] as T;
    const message =
      reason ?? (type === T.END ? 'unexpected end of expression' : type === T.INVALID ? tokens.problems[index]! : `unexpected token '${tokens.text(index)}'`);
    return new CalcError(message, tokens.start[index]! + 1);
  }

  private binary(kind: N, operatorIndex: number, left: number, right: number): number {
    return this.tree.add(kind, left, right, NaN, this.tokens.start[operatorIndex]! + 1);
  }

  private sum(): number {
    let left = this.product();
    for (let type = this.tokens.type[this.position]; type === T.PLUS || type === T.MINUS; type = this.tokens.type[this.position]) {
      const operator = this.position++;
      left = this.binary(BINARY[type as T]!, operator, left, this.product());
    }
    return left;
  }

  private product(): number {
    let left = this.unary();
    for (let type = this.tokens.type[this.position]; type === T.STAR || type === T.SLASH || type === T.PERCENT; type = this.tokens.type[this.position]) {
      const operator = this.position++;
      left = this.binary(BINARY[type as T]!, operator, left, this.unary());
    }
    return left;
  }

  private unary(): number {
    const type = this.tokens.type[this.position];
    if (type === T.MINUS || type === T.PLUS) {
      const operator = this.position++;
      if (++this.depth > MAX_NESTING) throw new CalcError('expression is nested too deeply', this.tokens.start[operator]! + 1);
      const operand = this.unary();
      this.depth--;
      return type === T.MINUS ? this.tree.add(N.NEGATE, operand, -1, NaN, this.tokens.start[operator]! + 1) : operand;
    }
    return this.power();
  }

  private power(): number {
    const base = this.primary();
    if (this.tokens.type[this.position] !== T.CARET) return base;
    const operator = this.position++;
    if (++this.depth > MAX_NESTING) throw new CalcError('expression is nested too deeply', this.tokens.start[operator]! + 1);
    const exponent = this.unary();
    this.depth--;
    return this.binary(N.POWER, operator, base, exponent);
  }

  private primary(): number {
    const tokens = this.tokens;
    const index = this.position++;
    const type = tokens.type[index];
    if (type === T.NUMBER) return this.tree.add(N.NUMBER, -1, -1, tokens.value[index]!, tokens.start[index]! + 1);
    if (type === T.LPAREN) {
      if (++this.depth > MAX_NESTING) throw new CalcError('expression is nested too deeply', tokens.start[index]! + 1);
      const inner = this.sum();
      this.depth--;
      const closing = this.position;
      if (tokens.type[closing] === T.RPAREN) {
        this.position++;
        return inner;
      }
      if (tokens.type[closing] === T.END) throw new CalcError(`unclosed '('`, tokens.start[index]! + 1);
      throw this.unexpected(closing, `expected ')' but found '${tokens.text(closing)}'`);
    }
    throw this.unexpected(index);
  }
}

/** The tree of one expression as plain objects (for tests and tools). */
export type Expression =
  | { kind: 'number'; value: number }
  | { kind: 'negate'; operand: Expression }
  | { kind: '+' | '-' | '*' | '/' | '%' | '^'; left: Expression; right: Expression };

const OPERATOR_OF: Partial<Record<N, '+' | '-' | '*' | '/' | '%' | '^'>> = {
  [N.ADD]: '+', [N.SUBTRACT]: '-', [N.MULTIPLY]: '*', [N.DIVIDE]: '/', [N.REMAINDER]: '%', [N.POWER]: '^',
};

export function parse(source: string): Expression {
  const tree = new Parser().parse(source);
  // Children come before their parent (see evaluateTree), so the objects are built in one pass, bottom-up.
  const objects: Expression[] = [];
  for (let i = 0; i < tree.count; i++) {
    const kind = tree.kind[i] as N;
    if (kind === N.NUMBER) objects.push({ kind: 'number', value: tree.value[i]! });
    else if (kind === N.NEGATE) objects.push({ kind: 'negate', operand: objects[tree.left[i]!]! });
    else objects.push({ kind: OPERATOR_OF[kind]!, left: objects[tree.left[i]!]!, right: objects[tree.right[i]!]! });
  }
  return objects[tree.root]!;
}
