// bench/report.ts: how `bun run bench` gathers each benchmark's headline rows into one table (no benchmark runs here).
import { afterEach, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readReport, reportRow, summaryTable, type ReportRow } from '../bench/report';

const saved = process.env.BENCH_REPORT;
const dirs: string[] = [];
afterEach(() => {
  if (saved === undefined) delete process.env.BENCH_REPORT;
  else process.env.BENCH_REPORT = saved;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const row: ReportRow = { measure: 'submit: bulk', jobgraph: '16,000 jobs/s', baseline: '—', ratio: null, target: '≥ 15,000 jobs/s', met: true };

test('rows are appended as JSON lines to BENCH_REPORT and read back in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-report-test-'));
  dirs.push(dir);
  process.env.BENCH_REPORT = join(dir, 'rows.jsonl');
  const second: ReportRow = { ...row, measure: 'public: me', ratio: 0.8, met: false };
  reportRow(row);
  reportRow(second);
  expect(readReport(process.env.BENCH_REPORT)).toEqual([row, second]);
});

test('without BENCH_REPORT a row is written nowhere, and a missing report reads as no rows', () => {
  delete process.env.BENCH_REPORT;
  expect(() => reportRow(row)).not.toThrow();
  expect(readReport(join(tmpdir(), 'jobgraph-no-such-report.jsonl'))).toEqual([]);
});

test('the summary is one markdown table: ratio as ×, no baseline or target as —, met as ✔/✘', () => {
  const table = summaryTable([row, { measure: 'pi: kernel', jobgraph: '1,640 M samples/s', baseline: '180 M samples/s', ratio: 9.111, target: '', met: null }]).split('\n');
  expect(table[0]).toMatch(/^\| measure +\| jobgraph +\| baseline \(same run\) +\| ratio +\| target +\| met\? \|$/);
  expect(table[1]).toMatch(/^\|-+\|-+\|-+\|-+\|-+\|-+\|$/);
  expect(table[2]!.split('|').map((cell) => cell.trim())).toEqual(['', 'submit: bulk', '16,000 jobs/s', '—', '—', '≥ 15,000 jobs/s', '✔', '']);
  expect(table[3]!.split('|').map((cell) => cell.trim())).toEqual(['', 'pi: kernel', '1,640 M samples/s', '180 M samples/s', '×9.11', '—', '—', '']);
  expect(new Set(table.map((line) => line.length)).size).toBe(1);
});
