/** Rows as an aligned text table on stdout (header from the first row's keys); nothing but a note when empty. */
export function printTable(rows: Record<string, unknown>[]): void {
  if (rows.length === 0) return void console.log('(none)');
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((column) => (row[column] === null || row[column] === undefined ? '—' : String(row[column]))));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(columns.map((column) => column.toUpperCase())));
  for (const values of cells) console.log(line(values));
}
