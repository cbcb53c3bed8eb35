import Papa from 'papaparse';
import type { AnalyticsRow } from '../compute/analytics';

/** What an ingest found. */
export interface ParsedDataset {
  rows: Array<AnalyticsRow & { yearEnd: number | null }>;
  rowsRead: number;
  rowsSkipped: number;
}

const REQUIRED_COLUMNS = ['Question', 'LocationDesc', 'Data_Value', 'StratificationCategory1', 'Stratification1', 'YearStart'] as const;

/** The file's text: gunzipped when it starts with the gzip magic bytes, a UTF-8 byte-order mark dropped. */
export function decodeDataset(bytes: Uint8Array<ArrayBuffer>): string {
  const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? Bun.gunzipSync(bytes) : bytes;
  const text = new TextDecoder('utf-8').decode(plain);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const yearOf = (cell: string | undefined) => {
  const year = Number(cell);
  return cell && Number.isInteger(year) ? year : null;
};

/**
 * Parses the CDC CSV (RFC 4180 quoting, by papaparse): header names are trimmed (`High_Confidence_Limit `) and
 * found by name, so an unnamed index column or a different column order does not matter. Rows whose Data_Value
 * is empty or not a number are skipped and counted.
 */
export function parseDataset(text: string): ParsedDataset {
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: true });
  const [header, ...records] = parsed.data;
  if (!header) throw new Error('the analytics CSV is empty');
  const names = header.map((name) => name.trim());
  const column = (name: string) => names.indexOf(name);
  const missing = REQUIRED_COLUMNS.filter((name) => column(name) < 0);
  if (missing.length) throw new Error(`the analytics CSV lacks the column(s) ${missing.join(', ')}`);
  const [question, state, value, category, segment, yearStart] = REQUIRED_COLUMNS.map(column) as number[];
  const yearEnd = column('YearEnd');
  const rows: ParsedDataset['rows'] = [];
  let rowsSkipped = 0;
  for (const record of records) {
    const raw = record[value!]?.trim() ?? '';
    const number = raw === '' ? NaN : Number(raw);
    if (!Number.isFinite(number)) {
      rowsSkipped++;
      continue;
    }
    rows.push({
      question: record[question!] ?? '',
      state: record[state!] ?? '',
      category: record[category!] ?? '',
      segment: record[segment!] ?? '',
      yearStart: yearOf(record[yearStart!]),
      yearEnd: yearEnd >= 0 ? yearOf(record[yearEnd]) : null,
      value: number,
    });
  }
  return { rows, rowsRead: records.length, rowsSkipped };
}
