import { defineConfig } from 'drizzle-kit';

// One folder of migrations per dialect: `bun run db:generate` writes SQLite's, `bun run db:generate:pg` PostgreSQL's.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './drizzle/sqlite',
});
