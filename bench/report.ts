// bench/report.ts — the headline rows of each benchmark, gathered by `bun run bench` (bench/index.ts) into one summary
// table. A bench calls reportRow() beside what it prints; the row is appended as a JSON line to the file named by
// BENCH_REPORT, and nothing happens when it is unset (a bench run on its own).
import { appendFileSync, readFileSync } from 'node:fs';
import type { Subprocess } from 'bun';

export interface ReportRow {
  /** What was measured, and by which bench: "submit: 8 clients × submitPiJob". */
  measure: string;
  /** jobgraph's figure, with its unit. */
  jobgraph: string;
  /** The baseline measured in the same run, with its unit; '—' where the bench has none. */
  baseline: string;
  /** jobgraph ÷ baseline, in the measure's unit (for times, below 1 is faster); null where there is no baseline. */
  ratio: number | null;
  target: string;
  /** Whether the target was met; null where there is no target. */
  met: boolean | null;
}

export function reportRow(row: ReportRow): void {
  const file = process.env.BENCH_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** A figure with thousands separators and its unit: `amount(15234.6, 'jobs/s')` → "15,235 jobs/s". */
export const amount = (value: number, unit: string, digits = 0) => `${value.toLocaleString('en', { maximumFractionDigits: digits })} ${unit}`;

export function readReport(file: string): ReportRow[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ReportRow);
}

/** A markdown table, its columns padded so it also reads as plain text. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((cells) => (cells[column] ?? '').length)));
  const line = (cells: string[]) => `| ${widths.map((width, column) => (cells[column] ?? '').padEnd(width)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function summaryTable(rows: ReportRow[]): string {
  const met = (value: boolean | null) => (value === null ? '—' : value ? '✔' : '✘');
  return markdownTable(
    ['measure', 'jobgraph', 'baseline (same run)', 'ratio', 'target', 'met?'],
    rows.map((row) => [row.measure, row.jobgraph, row.baseline, row.ratio === null ? '—' : `×${row.ratio.toFixed(2)}`, row.target || '—', met(row.met)]),
  );
}

/** Percentiles over lag histograms ([lag ms, count] pairs) that several subscriber processes sent back. */
export function lagPercentiles(histograms: [number, number][][]): (p: number) => number {
  const lags = new Map<number, number>();
  for (const histogram of histograms) for (const [lag, count] of histogram) lags.set(lag, (lags.get(lag) ?? 0) + count);
  const sorted = [...lags].sort(([a], [b]) => a - b);
  const total = sorted.reduce((sum, [, count]) => sum + count, 0);
  return (p: number) => {
    let seen = 0;
    for (const [lag, count] of sorted) if ((seen += count) >= (p / 100) * total) return lag;
    return NaN;
  };
}

/** A load generator's stdout line by line (bench/public-client.ts prints one JSON line per step). */
export function lines(child: Subprocess) {
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return async (): Promise<string> => {
    for (;;) {
      const newline = buffered.indexOf('\n');
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`load generator exited (${await child.exited})`);
      buffered += decoder.decode(value, { stream: true });
    }
  };
}
