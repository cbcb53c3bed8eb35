import type { Logger } from 'pino';
import { type AnalyticsRow, AnalyticsIndex, type CategoryMeanKey, closest, KNOWN_DIRECTIONS, pythonTuple, type Direction, type StateValue, type YearRange } from '../compute/analytics';
import type { Database } from '../db/client';
import { dateOf } from '../db/statements';
import { z } from 'zod';
import { badInput, unavailable } from '../errors';
import { checkLength, integerIn, parseInput } from '../input';
import { decodeDataset, parseDataset } from './ingest';
import * as sql from './sql';

export const ANALYTICS_QUERIES = [
  'STATES_MEAN',
  'STATE_MEAN',
  'BEST5',
  'WORST5',
  'GLOBAL_MEAN',
  'DIFF_FROM_MEAN',
  'STATE_DIFF_FROM_MEAN',
  'MEAN_BY_CATEGORY',
  'STATE_MEAN_BY_CATEGORY',
] as const;
export type AnalyticsQuery = (typeof ANALYTICS_QUERIES)[number];
/** The queries that need a state. */
export const STATE_QUERIES: ReadonlySet<AnalyticsQuery> = new Set(['STATE_MEAN', 'STATE_DIFF_FROM_MEAN', 'STATE_MEAN_BY_CATEGORY']);

export interface DatasetInfo {
  source: string;
  sha256: string;
  rowsRead: number;
  rowsKept: number;
  rowsSkipped: number;
  ingestMs: number;
  loadedAt: Date;
}

const toDatasetInfo = (row: sql.DatasetSqlRow): DatasetInfo => ({
  source: row.source,
  sha256: row.sha256,
  rowsRead: row.rows_read,
  rowsKept: row.rows_kept,
  rowsSkipped: row.rows_skipped,
  ingestMs: row.ingest_ms,
  loadedAt: dateOf(row.created_at),
});

/** A YearStart bound: rows from (or to) that year count. */
export const yearInput = (field: 'yearFrom' | 'yearTo') => integerIn(1900, 2100, `invalid field ${field}: a year from 1900 to 2100`).nullish();

/** `yearFrom`..`yearTo`, either or both; neither: every row counts (no range). */
export const yearRangeInput = z.object({ yearFrom: yearInput('yearFrom'), yearTo: yearInput('yearTo') }).transform(({ yearFrom, yearTo }, ctx): YearRange | undefined => {
  const from = yearFrom ?? undefined;
  const to = yearTo ?? undefined;
  if (from !== undefined && to !== undefined && from > to) {
    ctx.addIssue({ code: 'custom', message: `invalid year range: ${from} is after ${to}`, path: ['yearFrom'] });
    return z.NEVER;
  }
  return from === undefined && to === undefined ? undefined : { from, to };
});

/** A question or state longer than the longest known one by more than this is refused before it is looked up. */
const NAME_SLACK = 64;

/** Rows per SELECT when the index is built from the database: the rows never all exist as objects at once. */
const LOAD_BATCH = 5000;

/** Rows per INSERT (one JSON parameter: a few hundred kB of text at most). */
const INSERT_BATCH = 2000;

/**
 * The CDC dataset: ingested into SQLite when the file is new or changed (by SHA-256), then held as an in-memory
 * index so every statistic is a lookup. Validates questions, states and year ranges with messages that name them.
 */
export class AnalyticsService {
  private index: AnalyticsIndex | undefined;
  private info: DatasetInfo | undefined;

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly csvPath: string,
  ) {}

  /** Loads the dataset (ingesting it first when the file changed); called once at start-up. */
  load(): Promise<DatasetInfo> {
    // Instances starting together on one PostgreSQL database ingest in turn: the later ones find the rows loaded.
    return this.database.exclusively('analytics-ingest', () => this.loadNow());
  }

  private async loadNow(): Promise<DatasetInfo> {
    const started = performance.now();
    const file = Bun.file(this.csvPath);
    if (!(await file.exists())) throw unavailable(`the analytics CSV ${this.csvPath} does not exist (ANALYTICS_CSV)`);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const sha256 = new Bun.CryptoHasher('sha256').update(bytes).digest('hex');
    const stored = await this.database.first<sql.DatasetSqlRow>(sql.latestDataset);
    const current = stored && toDatasetInfo(stored);
    if (stored && current?.sha256 === sha256) {
      const { index, from } = await this.storedIndex(stored.id, current.rowsKept);
      this.index = index;
      this.info = current;
      this.log.info({ source: this.csvPath, rows: current.rowsKept, from, ms: Math.round(performance.now() - started) }, 'analytics dataset loaded from the database');
      return current;
    }

    let parsed: ReturnType<typeof parseDataset>;
    try {
      parsed = parseDataset(decodeDataset(bytes));
    } catch (error) {
      throw unavailable(`cannot read the analytics CSV ${this.csvPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Instances starting together on one PostgreSQL database may both ingest: each replaces the rows whole.
    await this.database.transaction(async (tx) => {
      await tx.exec(sql.deleteRows);
      await tx.exec(sql.deleteDatasets);
      for (let i = 0; i < parsed.rows.length; i += INSERT_BATCH) {
        const batch = parsed.rows.slice(i, i + INSERT_BATCH).map((row, j) => [i + j + 1, row.question, row.state, row.category, row.segment, row.yearStart, row.yearEnd, row.value]);
        await tx.exec(sql.insertRows, { batch: JSON.stringify(batch) });
      }
    });
    this.index = new AnalyticsIndex(parsed.rows);
    const ingestMs = performance.now() - started;
    const values = { source: this.csvPath, sha256, rowsRead: parsed.rowsRead, rowsKept: parsed.rows.length, rowsSkipped: parsed.rowsSkipped, ingestMs, indexSnapshot: this.index.toSnapshot() };
    this.info = toDatasetInfo((await this.database.first<sql.DatasetSqlRow>(sql.insertDataset, values))!);
    this.log.info(
      { source: this.csvPath, rowsRead: parsed.rowsRead, rowsKept: parsed.rows.length, rowsSkipped: parsed.rowsSkipped, ms: Math.round(ingestMs) },
      'analytics dataset ingested',
    );
    return this.info;
  }

  dataset(): DatasetInfo {
    if (!this.info) throw unavailable('the analytics dataset is not loaded yet');
    return this.info;
  }

  /**
   * The stored dataset's index: from its snapshot, or, where there is none (an older version ingested it, or a sum was
   * not finite) or it cannot be read (another format, cut short, not counting the dataset's rows), built from the
   * rows and its snapshot stored for the next start.
   */
  private async storedIndex(id: number, rows: number): Promise<{ index: AnalyticsIndex; from: 'snapshot' | 'rows' }> {
    const snapshot = (await this.database.first<{ index_snapshot: string | null }>(sql.indexSnapshot, { id }))?.index_snapshot;
    if (snapshot) {
      try {
        return { index: AnalyticsIndex.fromSnapshot(snapshot, rows), from: 'snapshot' };
      } catch (error) {
        this.log.warn({ err: error }, 'the analytics index snapshot could not be read; building the index from the rows');
      }
    }
    const index = await AnalyticsIndex.fromBatches(this.storedRows());
    await this.database.exec(sql.saveIndexSnapshot, { id, indexSnapshot: index.toSnapshot() });
    return { index, from: 'rows' };
  }

  /** The stored rows in dataset order (by id), a batch at a time. */
  private async *storedRows() {
    for (let after = 0; ; ) {
      const batch = await this.database.all<AnalyticsRow & { id: number }>(sql.rowsAfter, { after, limit: LOAD_BATCH });
      if (batch.length === 0) return;
      yield batch;
      after = batch.at(-1)!.id;
    }
  }

  private get data(): AnalyticsIndex {
    if (!this.index) throw unavailable('the analytics dataset is not loaded yet');
    return this.index;
  }

  questions(): { text: string; direction: Direction | null }[] {
    return this.data.questionTexts().map((text) => ({ text, direction: KNOWN_DIRECTIONS.get(text) ?? null }));
  }

  states(): string[] {
    return this.data.stateNames;
  }

  /** Checks a question; an unknown one is named, with the closest known question. */
  checkQuestion(question: unknown): string {
    if (typeof question !== 'string' || question === '') throw badInput('missing field question', { field: 'question' });
    checkLength(question, this.data.longestQuestion + NAME_SLACK, 'question');
    if (this.data.hasQuestion(question)) return question;
    const suggestion = closest(question, this.data.questionTexts());
    throw badInput(`unknown question "${question}"${suggestion ? `; did you mean "${suggestion}"?` : ''}`, { field: 'question', suggestion });
  }

  /** Checks a state (any LocationDesc of the dataset); an unknown one is named, with the closest known state. */
  checkState(state: unknown): string {
    if (typeof state !== 'string' || state === '') throw badInput('missing field state', { field: 'state' });
    checkLength(state, this.data.longestState + NAME_SLACK, 'state');
    if (this.data.stateNames.includes(state)) return state;
    const suggestion = closest(state, this.data.stateNames);
    throw badInput(`unknown state "${state}"${suggestion ? `; did you mean "${suggestion}"?` : ''}`, { field: 'state', suggestion });
  }

  checkYears(yearFrom: unknown, yearTo: unknown): YearRange | undefined {
    return parseInput(yearRangeInput, { yearFrom, yearTo });
  }

  /** Checks an analytics job's question, state (for the STATE_ queries) and years against the dataset. */
  checkJobInput(input: { query: AnalyticsQuery; question: unknown; state?: unknown; yearFrom?: unknown; yearTo?: unknown }) {
    const question = this.checkQuestion(input.question);
    const state = STATE_QUERIES.has(input.query) ? this.checkState(input.state) : undefined;
    const years = this.checkYears(input.yearFrom, input.yearTo);
    return { query: input.query, question, state, yearFrom: years?.from, yearTo: years?.to };
  }

  private direction(question: string): Direction {
    const direction = KNOWN_DIRECTIONS.get(question);
    if (!direction) throw badInput(`no known direction (better lower or higher) for "${question}"; best5 and worst5 need one`, { field: 'question' });
    return direction;
  }

  private stateValue(question: string, state: string, value: StateValue | null, years?: YearRange): StateValue {
    if (value === null) throw badInput(`no data for "${state}" on "${question}"${years ? ' in that year range' : ''}`, { field: 'state' });
    return value;
  }

  statesMean = (question: string, years?: YearRange) => this.data.statesMean(this.checkQuestion(question), years);
  stateMean = (question: string, state: string, years?: YearRange) =>
    this.stateValue(question, state, this.data.stateMean(this.checkQuestion(question), this.checkState(state), years), years);
  best5 = (question: string, years?: YearRange) => this.data.best5(this.checkQuestion(question), this.direction(question), years);
  worst5 = (question: string, years?: YearRange) => this.data.worst5(this.checkQuestion(question), this.direction(question), years);
  globalMean(question: string, years?: YearRange): number {
    const value = this.data.globalMean(this.checkQuestion(question), years);
    if (value === null) throw badInput(`no data for "${question}" in that year range`, { field: 'yearFrom' });
    return value;
  }
  diffFromMean = (question: string, years?: YearRange) => this.data.diffFromMean(this.checkQuestion(question), years);
  stateDiffFromMean(question: string, state: string, years?: YearRange): StateValue {
    const { value, rows } = this.stateMean(question, state, years);
    return { state, value: this.globalMean(question, years) - value, rows };
  }
  meanByCategory = (question: string, years?: YearRange) => this.data.meanByCategory(this.checkQuestion(question), years);
  stateMeanByCategory = (question: string, state: string, years?: YearRange) =>
    this.data.meanByCategory(this.checkQuestion(question), years, this.checkState(state));
  /** meanByCategory (with a state: stateMeanByCategory) as JSON text, checked alike (AnalyticsIndex.meanByCategoryJson). */
  meanByCategoryJson = (question: string, fields: readonly CategoryMeanKey[], years?: YearRange, state?: string) =>
    this.data.meanByCategoryJson(this.checkQuestion(question), fields, years, state === undefined ? undefined : this.checkState(state));

  /** Any of the nine, answered in the source's JSON shape (what an analytics job stores as `data`). */
  answer(query: AnalyticsQuery, question: string, state: string | undefined, years?: YearRange): Record<string, unknown> {
    const asObject = (list: { state: string; value: number }[]) => Object.fromEntries(list.map(({ state: s, value }) => [s, value]));
    switch (query) {
      case 'STATES_MEAN':
        return asObject(this.statesMean(question, years));
      case 'STATE_MEAN': {
        const { value } = this.stateMean(question, state!, years);
        return { [state!]: value };
      }
      case 'BEST5':
        return asObject(this.best5(question, years));
      case 'WORST5':
        return asObject(this.worst5(question, years));
      case 'GLOBAL_MEAN':
        return { global_mean: this.globalMean(question, years) };
      case 'DIFF_FROM_MEAN':
        return asObject(this.diffFromMean(question, years));
      case 'STATE_DIFF_FROM_MEAN':
        return { [state!]: this.stateDiffFromMean(question, state!, years).value };
      case 'MEAN_BY_CATEGORY':
        return Object.fromEntries(this.meanByCategory(question, years).map((g) => [pythonTuple(g.state, g.category, g.segment), g.value]));
      case 'STATE_MEAN_BY_CATEGORY':
        return { [state!]: Object.fromEntries(this.stateMeanByCategory(question, state!, years).map((g) => [pythonTuple(g.category, g.segment), g.value])) };
    }
  }
}
