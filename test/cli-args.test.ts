// The command-line tools take option values that start with '-': a token is base64url, and one in 64 starts with
// '-' (which parseArgs alone refuses as "ambiguous" — the dishes test met one).
import { expect, test } from 'bun:test';
import { parseArgs } from 'node:util';
import { joinOptionValues } from '../src/cli/graphql-client';

const options = { token: { type: 'string' }, out: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } as const;

test('a value starting with a dash is the option’s value, long or short, and the rest parses as before', () => {
  const args = ['file.txt', '--token', '-y5GKHk09eHKFA8Bb8lV5', '-o', '-out.txt', '-h'];
  const { values, positionals } = parseArgs({ args: joinOptionValues(args, options), options, allowPositionals: true });
  expect(values).toEqual({ token: '-y5GKHk09eHKFA8Bb8lV5', out: '-out.txt', help: true });
  expect(positionals).toEqual(['file.txt']);
  expect(() => parseArgs({ args, options, allowPositionals: true })).toThrow('ambiguous');
  expect(joinOptionValues(['--token=abc', '--token'], options)).toEqual(['--token=abc', '--token']);
});
