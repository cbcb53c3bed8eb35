// Temporary folders a test file makes for its databases, logs and homes, removed once the file's tests have run: a
// run leaves nothing behind in the temporary folder (the suite runs many times a day on the same machines).
import { afterAll } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Call once at a test file's top level: it registers the file's afterAll that removes every folder the returned
 * function made (`prefix` names them, e.g. 'jobgraph-boot-'). Processes a test started are its own to stop first.
 */
export function tempDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
