// `bun run calc --format python`: numbers laid out as Python's repr(float), checked against values Python printed.
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { pythonFloat, toPythonOutput } from '../src/calculator/python-format';

// Each pair: the number, and what CPython 3 printed for repr() of it.
const PRINTED_BY_PYTHON: [number, string][] = [
  [3819, '3819.0'],
  [105.65151515151518, '105.65151515151518'],
  [-31234, '-31234.0'],
  [1e16, '1e+16'],
  [1e15, '1000000000000000.0'],
  [1.5e-5, '1.5e-05'],
  [0.0001, '0.0001'],
  [123456789012345678, '1.2345678901234568e+17'],
  [1e22, '1e+22'],
  [-0.5, '-0.5'],
  [1e-7, '1e-07'],
  [1 / 3, '0.3333333333333333'],
  [5e-324, '5e-324'],
  [1.7976931348623157e308, '1.7976931348623157e+308'],
  [12345.678, '12345.678'],
  [0, '0.0'],
  [-0, '-0.0'],
  [Infinity, 'inf'],
  [-Infinity, '-inf'],
  [NaN, 'nan'],
];

describe('pythonFloat', () => {
  test('writes what Python printed', () => {
    for (const [value, printed] of PRINTED_BY_PYTHON) expect(pythonFloat(value)).toBe(printed);
  });

  test('any double: the same value back, with a point or an exponent as Python always has', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const text = pythonFloat(value);
        expect(Object.is(Number(text), value)).toBe(true);
        expect(text).toMatch(/\.|e/);
      }),
    );
  });

  test('a result file: values converted, error lines kept', () => {
    expect(toPythonOutput('3819\nerror: division by zero at column 3\n0.000015\n')).toBe('3819.0\nerror: division by zero at column 3\n1.5e-05\n');
  });
});
