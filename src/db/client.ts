import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import { lockDatabase } from './lock';
import { relations } from './relations';

export const MIGRATIONS_FOLDER = join(import.meta.dir, '..', '..', 'drizzle');

export function createDb(sqlite: Database) {
  return drizzle({ client: sqlite, relations });
}
export type Db = ReturnType<typeof createDb>;

export interface OpenDatabase {
  sqlite: Database;
  db: Db;
  close(): void;
}

/**
 * Opens (creating if needed) the SQLite file, sets the pragmas jobgraph relies on and applies pending migrations.
 * The file is locked for this process: a second jobgraph on it gets {@link DatabaseInUseError} (see ./lock.ts).
 */
export function openDatabase(path: string): OpenDatabase {
  const inMemory = path === ':memory:';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const lock = inMemory ? null : lockDatabase(path);
  let sqlite: Database | undefined;
  try {
    sqlite = new Database(path, { create: true, strict: true });
    // WAL lets readers run beside the single writer; NORMAL is durable across process crashes in WAL mode.
    sqlite.run('PRAGMA journal_mode = WAL');
    sqlite.run('PRAGMA synchronous = NORMAL');
    sqlite.run('PRAGMA foreign_keys = ON');
    sqlite.run('PRAGMA busy_timeout = 5000');
    const db = createDb(sqlite);
    migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    const opened = sqlite;
    return {
      sqlite: opened,
      db,
      close: () => {
        opened.close();
        lock?.release();
      },
    };
  } catch (error) {
    sqlite?.close();
    lock?.release();
    throw error;
  }
}
