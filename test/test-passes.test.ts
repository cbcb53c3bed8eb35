// The files `bun run test` runs on SQLite only (scripts/lib/test-passes.ts) start nothing that reads the suite's
// backend: were one to start an in-process test server, or a helper that does, its PostgreSQL run would be lost.
import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_NAMES, SQLITE_PASS_ONLY } from '../scripts/lib/test-passes';

const ROOT = join(import.meta.dir, '..');

/** The test helpers a file imports (`./helpers/x`), as paths; helpers/server.ts aside: it holds the names themselves. */
const helpersOf = (source: string) =>
  [...source.matchAll(/from '\.\/helpers\/([\w-]+)'/g)].map((match) => `test/helpers/${match[1]}.ts`).filter((path) => path !== 'test/helpers/server.ts');

describe('files run on SQLite only', () => {
  test('the list names test files that exist', () => {
    expect(Object.keys(SQLITE_PASS_ONLY).filter((path) => !path.endsWith('.test.ts') || !existsSync(join(ROOT, path)))).toEqual([]);
  });

  test('none of them, nor a helper it imports, starts or reaches a server on the suite’s backend', () => {
    const found: string[] = [];
    for (const path of Object.keys(SQLITE_PASS_ONLY)) {
      if (path === 'test/test-passes.test.ts') continue; // names them to look for them
      const source = readFileSync(join(ROOT, path), 'utf8');
      for (const file of [path, ...helpersOf(source)]) {
        const name = readFileSync(join(ROOT, file), 'utf8').match(BACKEND_NAMES)?.[0];
        if (name) found.push(`${path}: ${file} mentions ${name}`);
      }
    }
    expect(found).toEqual([]);
  });

  test('the check sees a file that starts a test server', () => {
    expect(readFileSync(join(ROOT, 'test/jobs.test.ts'), 'utf8')).toMatch(BACKEND_NAMES);
  });
});
