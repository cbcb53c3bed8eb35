// The nine statistics of the source "Le Stats Sportif" server over the CDC BRFSS rows, as pure functions over an
// in-memory index built once per dataset. Each query is a lookup plus, with a year filter, a sum over ≤ 12 years.

export interface AnalyticsRow {
  question: string;
  state: string;
  category: string;
  segment: string;
  yearStart: number | null;
  value: number;
}

export type Direction = 'LOWER_IS_BETTER' | 'HIGHER_IS_BETTER';

/** The source's nine questions and which way is better (shared/specs/analytics.md). */
export const KNOWN_DIRECTIONS: ReadonlyMap<string, Direction> = new Map([
  ['Percent of adults aged 18 years and older who have an overweight classification', 'LOWER_IS_BETTER'],
  ['Percent of adults aged 18 years and older who have obesity', 'LOWER_IS_BETTER'],
  ['Percent of adults who engage in no leisure-time physical activity', 'LOWER_IS_BETTER'],
  ['Percent of adults who report consuming fruit less than one time daily', 'LOWER_IS_BETTER'],
  ['Percent of adults who report consuming vegetables less than one time daily', 'LOWER_IS_BETTER'],
  [
    'Percent of adults who achieve at least 150 minutes a week of moderate-intensity aerobic physical activity or 75 minutes a week of vigorous-intensity aerobic activity (or an equivalent combination)',
    'HIGHER_IS_BETTER',
  ],
  [
    'Percent of adults who achieve at least 150 minutes a week of moderate-intensity aerobic physical activity or 75 minutes a week of vigorous-intensity aerobic physical activity and engage in muscle-strengthening activities on 2 or more days a week',
    'HIGHER_IS_BETTER',
  ],
  [
    'Percent of adults who achieve at least 300 minutes a week of moderate-intensity aerobic physical activity or 150 minutes a week of vigorous-intensity aerobic activity (or an equivalent combination)',
    'HIGHER_IS_BETTER',
  ],
  ['Percent of adults who engage in muscle-strengthening activities on 2 or more days a week', 'HIGHER_IS_BETTER'],
]);

/**
 * Sums and counts per year (`null` year: rows without one), so a year range is a sum over a few entries. The years
 * sit in parallel arrays in the order they first appear: a range adds their sums in that order, the same additions
 * in the same order on every ask (so the same bits), without a Map iterator's allocations.
 */
class Tally {
  sum = 0;
  count = 0;
  private years: (number | null)[] = [];
  private yearSums: number[] = [];
  private yearCounts: number[] = [];

  /** Its numbers as they are (JSON keeps a double's every bit), for a snapshot. */
  parts(): TallyParts {
    return [this.sum, this.count, this.years, this.yearSums, this.yearCounts];
  }

  static from([sum, count, years, yearSums, yearCounts]: TallyParts): Tally {
    const tally = new Tally();
    tally.sum = sum;
    tally.count = count;
    tally.years = years;
    tally.yearSums = yearSums;
    tally.yearCounts = yearCounts;
    return tally;
  }

  add(year: number | null, value: number): void {
    this.sum += value;
    this.count++;
    const at = this.years.indexOf(year);
    if (at >= 0) {
      this.yearSums[at]! += value;
      this.yearCounts[at]!++;
    } else {
      this.years.push(year);
      this.yearSums.push(value);
      this.yearCounts.push(1);
    }
  }

  /** The mean over the rows in the year range, or null when none. */
  mean(range?: YearRange): number | null {
    const { sum, count } = this.total(range);
    return count ? sum / count : null;
  }

  total(range?: YearRange): { sum: number; count: number } {
    if (!range || (range.from === undefined && range.to === undefined)) return this;
    const from = range.from ?? Number.NEGATIVE_INFINITY;
    const to = range.to ?? Number.POSITIVE_INFINITY;
    const { years, yearSums, yearCounts } = this;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < years.length; i++) {
      const year = years[i]!;
      if (year === null || year < from || year > to) continue;
      sum += yearSums[i]!;
      count += yearCounts[i]!;
    }
    return { sum, count };
  }
}

export interface YearRange {
  from?: number;
  to?: number;
}

type TallyParts = [sum: number, count: number, years: (number | null)[], yearSums: number[], yearCounts: number[]];

/** A snapshot's tally, checked for its shape: numbers where numbers go, as many years as sums and counts. */
function tallyOf(parts: TallyParts): Tally {
  const [sum, count, years, yearSums, yearCounts] = parts;
  const numbers = (list: unknown) => Array.isArray(list) && list.every((n) => typeof n === 'number');
  const whole =
    typeof sum === 'number' && Number.isInteger(count) && Array.isArray(years) && years.every((year) => year === null || typeof year === 'number') &&
    numbers(yearSums) && numbers(yearCounts) && yearSums.length === years.length && yearCounts.length === years.length;
  if (!whole) throw new Error('analytics index snapshot: a tally is not whole');
  return Tally.from(parts);
}

/**
 * A snapshot's format: one of another is built from the rows again. Raise it with any change to what the index holds
 * or how it is built (add, finish, the groups' order), or starts would go on reading what the old code built.
 */
export const SNAPSHOT_FORMAT = 1;

/**
 * The index as JSON: each name once (`names`), each question with its whole, per-state and per-group tallies in the
 * index's own order. Groups are `[state, category, segment, tally]` by position in `names`.
 */
interface Snapshot {
  format: number;
  names: string[];
  questions: [question: string, all: TallyParts, states: [state: number, tally: TallyParts][], groups: [state: number, category: number, segment: number, tally: TallyParts][]][];
}

interface CategoryGroup {
  state: string;
  category: string;
  segment: string;
  tally: Tally;
  /** Python's repr of the (state, category, segment) key, which the source sorted as a string. */
  stateKey: string;
  /** The names as JSON text, once an answer was written as JSON (meanByCategoryJson). */
  quoted?: Record<'state' | 'category' | 'segment', string>;
}

interface QuestionIndex {
  all: Tally;
  states: Map<string, Tally>;
  categories: CategoryGroup[];
}

export interface StateValue {
  state: string;
  value: number;
  /** How many rows the value comes from. */
  rows: number;
}
export interface CategoryMean {
  state: string;
  category: string;
  segment: string;
  value: number;
}

const NEEDS_ESCAPE = /[\\\x00-\x1f\x7f]/;

/** Python's repr() of a str: single quotes unless the text has one and no double quote (CPython's rule). */
export function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  // Nearly every dataset name has nothing to escape: no per-character copy then.
  if (!NEEDS_ESCAPE.test(text) && !text.includes(quote)) return quote + text + quote;
  let out = quote;
  for (const char of text) {
    if (char === quote || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (char < ' ' || char === '\x7f') out += `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return out + quote;
}

export const pythonTuple = (...items: string[]) => `(${items.map(pythonRepr).join(', ')})`;

/**
 * Python compares str by code point; JavaScript's < by UTF-16 unit. They differ only where one string has a surrogate
 * (U+D800–DFFF, half of a character past U+FFFF) and the other a unit of U+E000–FFFF at the first difference, so
 * compare units and shift those two ranges into code point order there (no copy of either string: the index sorts
 * tens of thousands of keys at each start).
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const left = a.charCodeAt(i);
    const right = b.charCodeAt(i);
    if (left !== right) return codePointOrder(left) - codePointOrder(right);
  }
  return a.length - b.length;
}

/** A UTF-16 unit moved so that surrogates (characters past U+FFFF) sort after U+E000–FFFF, as their code points do. */
const codePointOrder = (unit: number) => (unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit);

/** Ascending by value, ties by state name — or descending by value, ties still by name. */
const byValue = (descending: boolean) => (a: StateValue, b: StateValue) =>
  a.value === b.value ? compareCodePoints(a.state, b.state) : descending ? b.value - a.value : a.value - b.value;

/** The constructor's argument when fromBatches adds the rows itself. */
const NO_ROWS_YET: AnalyticsRow[] = [];

export class AnalyticsIndex {
  private readonly questions = new Map<string, QuestionIndex>();
  stateNames: string[] = [];
  /** Characters in the longest question and the longest state name. */
  longestQuestion = 0;
  longestState = 0;
  /** While rows are added: every state seen, and each question's category groups by state, category and segment. */
  private building: { states: Set<string>; groups: Map<string, Map<string, CategoryGroup>> } | null = { states: new Set(), groups: new Map() };

  constructor(rows: Iterable<AnalyticsRow> = []) {
    for (const row of rows) this.add(row);
    if (rows !== NO_ROWS_YET) this.finish();
  }

  /**
   * Built from batches of rows in dataset order, so that loading a large dataset never holds it all as row objects
   * at once (their peak stayed in the process's resident memory: ~45 MB at idle for the bundled dataset).
   */
  static async fromBatches(batches: AsyncIterable<readonly AnalyticsRow[]>): Promise<AnalyticsIndex> {
    const index = new AnalyticsIndex(NO_ROWS_YET);
    for await (const batch of batches) for (const row of batch) index.add(row);
    index.finish();
    return index;
  }

  /**
   * This index as JSON, which fromSnapshot reads back into an equal one: the same sums, kept in the same orders. Null
   * when a sum is not finite (values near the largest double): JSON has no Infinity, so such an index is not stored.
   */
  toSnapshot(): string | null {
    const names: string[] = [];
    const positions = new Map<string, number>();
    const name = (text: string) => {
      let at = positions.get(text);
      if (at === undefined) positions.set(text, (at = names.push(text) - 1));
      return at;
    };
    const questions: Snapshot['questions'] = [...this.questions].map(([question, { all, states, categories }]) => [
      question,
      all.parts(),
      [...states].map(([state, tally]) => [name(state), tally.parts()]),
      categories.map((group) => [name(group.state), name(group.category), name(group.segment), group.tally.parts()]),
    ]);
    const finite = (parts: TallyParts) => Number.isFinite(parts[0]) && parts[3].every(Number.isFinite);
    const allFinite = questions.every(([, all, states, groups]) => finite(all) && states.every(([, tally]) => finite(tally)) && groups.every(([, , , tally]) => finite(tally)));
    return allFinite ? JSON.stringify({ format: SNAPSHOT_FORMAT, names, questions } satisfies Snapshot) : null;
  }

  /**
   * The index a snapshot holds (toSnapshot): a start reads ~1.4 MB of JSON instead of building from every row (~80,000
   * row objects and their strings: ~250 ms, and 55–66 MB more resident during the start). Throws on a snapshot of another
   * format, one that is not whole, or one whose tallies do not count `rows` rows (the dataset's): the caller builds
   * from the rows instead.
   */
  static fromSnapshot(json: string, rows: number): AnalyticsIndex {
    const snapshot = JSON.parse(json) as Snapshot;
    if (snapshot?.format !== SNAPSHOT_FORMAT) throw new Error(`analytics index snapshot of format ${String(snapshot?.format)}, not ${SNAPSHOT_FORMAT}`);
    const index = new AnalyticsIndex(NO_ROWS_YET);
    const { names } = snapshot;
    const name = (at: number) => {
      const text = names[at];
      if (typeof text !== 'string') throw new Error(`analytics index snapshot: no name ${at}`);
      return text;
    };
    const states = index.building!.states;
    let counted = 0;
    for (const [question, all, byState, groups] of snapshot.questions) {
      index.questions.set(question, {
        all: tallyOf(all),
        states: new Map(byState.map(([state, tally]) => (states.add(name(state)), [name(state), tallyOf(tally)]))),
        categories: groups.map(([state, category, segment, tally]) => {
          const [s, c, g] = [name(state), name(category), name(segment)];
          return { state: s, category: c, segment: g, tally: tallyOf(tally), stateKey: pythonTuple(s, c, g) };
        }),
      });
      counted += all[1];
    }
    if (counted !== rows) throw new Error(`analytics index snapshot counts ${counted} rows, the dataset ${rows}`);
    // No groups to sort: they come in their order.
    index.finish();
    return index;
  }

  private add(row: AnalyticsRow): void {
    const { states, groups } = this.building!;
    let question = this.questions.get(row.question);
    if (!question) this.questions.set(row.question, (question = { all: new Tally(), states: new Map(), categories: [] }));
    question.all.add(row.yearStart, row.value);
    let state = question.states.get(row.state);
    if (!state) question.states.set(row.state, (state = new Tally()));
    state.add(row.yearStart, row.value);
    states.add(row.state);
    // Only rows with both a category and a segment form a group (Total/Total included).
    if (!row.category || !row.segment) return;
    let byKey = groups.get(row.question);
    if (!byKey) groups.set(row.question, (byKey = new Map()));
    const key = `${row.state}\u0000${row.category}\u0000${row.segment}`;
    let group = byKey.get(key);
    if (!group) {
      const stateKey = pythonTuple(row.state, row.category, row.segment);
      group = { state: row.state, category: row.category, segment: row.segment, tally: new Tally(), stateKey };
      byKey.set(key, group);
    }
    group.tally.add(row.yearStart, row.value);
  }

  private finish(): void {
    const { states, groups } = this.building!;
    this.building = null;
    this.stateNames = [...states].sort(compareCodePoints);
    this.longestQuestion = Math.max(0, ...[...this.questions.keys()].map((question) => question.length));
    this.longestState = Math.max(0, ...this.stateNames.map((state) => state.length));
    // Sorted once by the source's tuple-string order.
    for (const [question, byKey] of groups) {
      this.questions.get(question)!.categories = [...byKey.values()].sort((a, b) => compareCodePoints(a.stateKey, b.stateKey));
    }
  }

  questionTexts(): string[] {
    return [...this.questions.keys()].sort(compareCodePoints);
  }

  hasQuestion(question: string): boolean {
    return this.questions.has(question);
  }

  private require(question: string): QuestionIndex {
    const index = this.questions.get(question);
    if (!index) throw new RangeError(`unknown question: ${question}`);
    return index;
  }

  /** Every state with rows for the question (in the year range), by mean ascending. */
  statesMean(question: string, years?: YearRange): StateValue[] {
    const result: StateValue[] = [];
    for (const [state, tally] of this.require(question).states) {
      const { sum, count } = tally.total(years);
      if (count) result.push({ state, value: sum / count, rows: count });
    }
    return result.sort(byValue(false));
  }

  /** The state's mean, or null when it has no rows for the question (in the range). */
  stateMean(question: string, state: string, years?: YearRange): StateValue | null {
    const total = this.require(question).states.get(state)?.total(years);
    return total?.count ? { state, value: total.sum / total.count, rows: total.count } : null;
  }

  globalMean(question: string, years?: YearRange): number | null {
    return this.require(question).all.mean(years);
  }

  /** The five best: lower-is-better → five lowest ascending; higher-is-better → five highest descending. */
  best5(question: string, direction: Direction, years?: YearRange): StateValue[] {
    return this.statesMean(question, years).sort(byValue(direction === 'HIGHER_IS_BETTER')).slice(0, 5);
  }

  /** The five worst, worst first. */
  worst5(question: string, direction: Direction, years?: YearRange): StateValue[] {
    return this.statesMean(question, years).sort(byValue(direction === 'LOWER_IS_BETTER')).slice(0, 5);
  }

  /** global − state for every state, in statesMean order. */
  diffFromMean(question: string, years?: YearRange): StateValue[] {
    const global = this.globalMean(question, years);
    if (global === null) return [];
    return this.statesMean(question, years).map(({ state, value, rows }) => ({ state, value: global - value, rows }));
  }

  /** Every (state, category, segment) group's mean, ordered as the source's tuple-string keys. */
  meanByCategory(question: string, years?: YearRange, state?: string): CategoryMean[] {
    const result: CategoryMean[] = [];
    for (const group of this.require(question).categories) {
      if (state !== undefined && group.state !== state) continue;
      const value = group.tally.mean(years);
      if (value !== null) result.push({ state: group.state, category: group.category, segment: group.segment, value });
    }
    // One state's groups were keyed by (category, segment) in the source: the same order within a state.
    return result;
  }

  /**
   * meanByCategory written as JSON text: the bytes JSON.stringify gives for its objects with `fields` under their
   * keys, in that order, without the objects. A mean that is not finite throws (a GraphQL Float cannot be one).
   */
  meanByCategoryJson(question: string, fields: readonly CategoryMeanKey[], years?: YearRange, state?: string): string {
    // `{"key":` before each field's value, `,"key":` after the first: written once per ask, not per group.
    const prefixes = fields.map(({ key }, i) => `${i === 0 ? '{' : ','}${JSON.stringify(key)}:`);
    const names = fields.map(({ field }) => field);
    let text = '';
    for (const group of this.quotedCategories(question)) {
      if (state !== undefined && group.state !== state) continue;
      const value = group.tally.mean(years);
      if (value === null) continue;
      if (!Number.isFinite(value)) throw new RangeError(`a mean of ${question} is not finite`);
      let object = '';
      for (let i = 0; i < names.length; i++) {
        const field = names[i]!;
        object += prefixes[i]! + (field === 'value' ? String(value) : group.quoted[field]);
      }
      text += text === '' ? `[${object}}` : `,${object}}`;
    }
    return text === '' ? '[]' : `${text}]`;
  }

  /** The question's groups, each with its names as JSON text: made by its first answer written as JSON, names shared. */
  private quotedCategories(question: string): (CategoryGroup & { quoted: Record<'state' | 'category' | 'segment', string> })[] {
    const { categories } = this.require(question);
    if (categories.length > 0 && categories[0]!.quoted === undefined) {
      const quotedNames = new Map<string, string>();
      const quote = (name: string) => {
        let text = quotedNames.get(name);
        if (text === undefined) quotedNames.set(name, (text = JSON.stringify(name)));
        return text;
      };
      for (const group of categories) group.quoted = { state: quote(group.state), category: quote(group.category), segment: quote(group.segment) };
    }
    return categories as (CategoryGroup & { quoted: Record<'state' | 'category' | 'segment', string> })[];
  }
}

/** A field of a CategoryMean, and the key an answer writes it under (its alias, or its name). */
export interface CategoryMeanKey {
  key: string;
  field: keyof CategoryMean;
}

/**
 * Levenshtein distance, for "did you mean" suggestions. Past `limit` the exact value does not matter: once the
 * distance is sure to exceed it (lengths too far apart, a whole row above it) the work stops with `limit + 1`.
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = new Int32Array(b.length + 1).map((_, j) => j);
  let current = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMinimum = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      const distance = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current[j] = distance;
      if (distance < rowMinimum) rowMinimum = distance;
    }
    // Every later row is at least this row's minimum.
    if (rowMinimum > limit) return limit + 1;
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** Longer texts get no suggestion: nothing that long is a typo of a name, and the distance grows with the length. */
export const MAX_SUGGESTION_INPUT = 1024;

/** The candidate nearest to `text` (ignoring case), or undefined for an over-long text. */
export function closest(text: string, candidates: readonly string[]): string | undefined {
  if (text.length > MAX_SUGGESTION_INPUT) return undefined;
  const needle = text.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    // Only a strictly better candidate matters, so the work stops once it can't be one.
    const distance = editDistance(needle, candidate.toLowerCase(), bestDistance - 1);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}
