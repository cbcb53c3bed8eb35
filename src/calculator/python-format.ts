// The source calculator was Python: it wrote each result with `str(float)` (`3819.0`, `1e+16`, `1.5e-05`), where
// jobgraph writes JavaScript's shortest round-trip decimal (`3819`, `10000000000000000`, `0.000015`). Both are the
// same shortest digits; only the layout differs, so a line converts exactly, either way.

/** A number as Python 3's `repr(float)` (and `str`) writes it. */
export function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  // toExponential() without digits gives the shortest digits that round-trip, as Python's repr chooses them.
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace(/^-/, '').replace('.', '');
  // Python's repr: scientific below 1e-4 and from 1e16 on, with at least two exponent digits.
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const power = Math.abs(exponent).toString().padStart(2, '0');
    return `${sign}${digits[0]}${fraction}e${exponent < 0 ? '-' : '+'}${power}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}.${fraction || '0'}`;
}

/** A result file's lines in Python's layout: values converted, `error: …` lines as they are. */
export function toPythonOutput(output: string): string {
  return output.replace(/^(?!error)[^\n]+$/gm, (line) => {
    const value = Number(line);
    return Number.isNaN(value) && line !== 'NaN' ? line : pythonFloat(value);
  });
}
