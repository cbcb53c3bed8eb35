// Writes schema/schema.graphql from the code (`bun run schema:print`), or with --check fails when it differs.
// The file is the built-in kinds' schema: kind files are left out. `--kinds [dir]` prints the schema extended with the
// kind files of dir (default JOB_KINDS_DIR, else ./kinds) to stdout instead (docs/kinds.md).
import { printSchema } from 'graphql';
import { JOB_KINDS } from '../src/db/schema';
import { buildSchema } from '../src/schema';
import { loadKindFiles } from '../src/kinds/load';

const path = new URL('../schema/schema.graphql', import.meta.url).pathname;
const kindsAt = process.argv.indexOf('--kinds');

if (kindsAt >= 0) {
  const dir = process.argv[kindsAt + 1] ?? process.env.JOB_KINDS_DIR ?? 'kinds';
  try {
    process.stdout.write(`${printSchema(buildSchema(await loadKindFiles(dir, JOB_KINDS, true)))}\n`);
  } catch (error) {
    console.error(`print-schema: ${(error as Error).message}`);
    process.exit(2);
  }
  process.exit(0);
}

const printed = `${printSchema(buildSchema())}\n`;
if (process.argv.includes('--check')) {
  const file = Bun.file(path);
  const current = (await file.exists()) ? await file.text() : '';
  if (current !== printed) {
    console.error('schema/schema.graphql is out of date: run `bun run schema:print` and commit the result.');
    process.exit(1);
  }
  console.log('schema/schema.graphql is up to date.');
} else {
  await Bun.write(path, printed);
  console.log(`wrote ${path}`);
}
