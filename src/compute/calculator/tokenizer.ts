/** A failure of one expression; the message ends with the 1-based column where it happened. */
export class CalcError extends Error {
  override name = 'CalcError';
  constructor(
    readonly reason: string,
    readonly column: number,
  ) {
    super(column > 0 ? `${reason} at column ${column}` : reason);
  }
}

/** Token types. `INVALID` carries a tokenizing error that the parser reports when it reaches it, in order. */
export const enum T {
  NUMBER = 1,
  PLUS,
  MINUS,
  STAR,
  SLASH,
  PERCENT,
  CARET,
  LPAREN,
  RPAREN,
  WORD,
  INVALID,
  END,
}

/**
 * The tokens of one expression in parallel typed arrays, reused from one expression to the next, so that a batch
 * of 300,000 lines allocates nothing per token (the hot path of a calc job).
 */
export class TokenBuffer {
  count = 0;
  type = new Uint8Array(64);
  start = new Int32Array(64);
  end = new Int32Array(64);
  value = new Float64Array(64);
  /** For INVALID tokens: what is wrong. */
  problems: string[] = [];
  source = '';

  push(type: T, start: number, end: number, value: number): void {
    if (this.count === this.type.length) this.grow();
    const i = this.count++;
    this.type[i] = type;
    this.start[i] = start;
    this.end[i] = end;
    this.value[i] = value;
  }

  text(i: number): string {
    return this.source.slice(this.start[i], this.end[i]);
  }

  private grow(): void {
    const size = this.type.length * 2;
    this.type = resized(this.type, size);
    this.start = resized(this.start, size);
    this.end = resized(this.end, size);
    this.value = resized(this.value, size);
  }
}

/** A copy of a typed array in a bigger one of the same type. */
export function resized<A extends Uint8Array | Int32Array | Float64Array>(from: A, size: number): A {
  const to = new (from.constructor as new (length: number) => A)(size);
  to.set(from);
  return to;
}

const CH_0 = 48, CH_9 = 57, CH_DOT = 46;
const isDigit = (code: number) => code >= CH_0 && code <= CH_9;
const isWordStart = (code: number) => (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
const isWordPart = (code: number) => isWordStart(code) || isDigit(code);
const SINGLE: Record<number, T> = { 43: T.PLUS, 45: T.MINUS, 42: T.STAR, 47: T.SLASH, 37: T.PERCENT, 94: T.CARET, 40: T.LPAREN, 41: T.RPAREN };

/**
 * Splits one expression into tokens. Numbers are decimal with an optional fraction and exponent (`12`, `1.5`, `.5`,
 * `2e-3`); a word is one token (`import`) so an error can name it. Spaces, tabs and a trailing `\r` separate tokens.
 * It stops after the first INVALID token: the parser fails there at the latest, and a line of a million bad
 * characters must not cost a million messages.
 */
export function tokenizeInto(source: string, tokens: TokenBuffer): TokenBuffer {
  tokens.count = 0;
  tokens.problems.length = 0;
  tokens.source = source;
  const length = source.length;
  let i = 0;
  while (i < length) {
    const code = source.charCodeAt(i);
    if (code === 32 || code === 9 || code === 13) {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(code) || code === CH_DOT) {
      // Plain integers (the common case) are accumulated exactly; anything else goes through Number().
      let integer = 0;
      while (i < length && isDigit(source.charCodeAt(i))) integer = integer * 10 + (source.charCodeAt(i++) - CH_0);
      let simple = i - start <= 15;
      if (i < length && source.charCodeAt(i) === CH_DOT) {
        simple = false;
        i++;
        while (i < length && isDigit(source.charCodeAt(i))) i++;
      }
      let malformed = i - start === 1 && code === CH_DOT;
      const e = source.charCodeAt(i);
      if (!malformed && (e === 101 || e === 69)) {
        simple = false;
        let j = i + 1;
        const sign = source.charCodeAt(j);
        if (sign === 43 || sign === 45) j++;
        if (isDigit(source.charCodeAt(j))) {
          while (j < length && isDigit(source.charCodeAt(j))) j++;
        } else malformed = true;
        i = j;
      }
      // `12abc`, `1.2.3`, `2e`: one malformed number, not a number followed by something.
      while (i < length && (isWordPart(source.charCodeAt(i)) || source.charCodeAt(i) === CH_DOT)) {
        malformed = true;
        i++;
      }
      const value = malformed ? NaN : simple ? integer : Number(source.slice(start, i));
      if (malformed || value === Infinity) {
        tokens.problems[tokens.count] = `${malformed ? 'malformed number' : 'number too large'} '${source.slice(start, i)}'`;
        tokens.push(T.INVALID, start, i, NaN);
        break;
      }
      tokens.push(T.NUMBER, start, i, value);
      continue;
    }
    if (isWordStart(code)) {
      while (i < length && isWordPart(source.charCodeAt(i))) i++;
      tokens.push(T.WORD, start, i, NaN);
      continue;
    }
    const type = SINGLE[code];
    if (type !== undefined) {
      tokens.push(type, start, ++i, NaN);
      continue;
    }
    const character = String.fromCodePoint(source.codePointAt(i)!);
    i += character.length;
    tokens.problems[tokens.count] = `unexpected character '${character}'`;
    tokens.push(T.INVALID, start, i, NaN);
    break;
  }
  tokens.push(T.END, length, length, NaN);
  return tokens;
}

export interface Token {
  type: 'number' | 'operator' | '(' | ')' | 'word' | 'invalid' | 'end';
  text: string;
  column: number;
}

const TYPE_NAMES: Record<T, Token['type']> = {
  [T.NUMBER]: 'number', [T.PLUS]: 'operator', [T.MINUS]: 'operator', [T.STAR]: 'operator', [T.SLASH]: 'operator',
  [T.PERCENT]: 'operator', [T.CARET]: 'operator', [T.LPAREN]: '(', [T.RPAREN]: ')', [T.WORD]: 'word',
  [T.INVALID]: 'invalid', [T.END]: 'end',
};

/** The tokens of one expression as objects (for tests and tools; the batch path uses TokenBuffer). */
export function tokenize(source: string): Token[] {
  const buffer = tokenizeInto(source, new TokenBuffer());
  return Array.from({ length: buffer.count }, (_, i) => ({ type: TYPE_NAMES[buffer.type[i] as T], text: buffer.text(i), column: buffer.start[i]! + 1 }));
}
