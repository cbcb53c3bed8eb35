// Writes schema/schema.graphql from the code (`bun run schema:print`), or with --check fails when it differs.
import { printSchema } from 'graphql';
import { buildSchema } from '../src/schema';

const path = new URL('../schema/schema.graphql', import.meta.url).pathname;
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
