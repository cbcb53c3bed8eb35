import type { Logger } from 'pino';
import type { Config } from './config';
import { type Db, openDatabase } from './db/client';
import { createEventBus, type EventBus } from './events';
import { UsersService } from './users/service';

/** The services of one running jobgraph, wired once and shared by every interface (GraphQL, REST, CLI). */
export interface App {
  config: Config;
  log: Logger;
  db: Db;
  events: EventBus;
  users: UsersService;
  /** True while the database is open and migrated. */
  isReady(): boolean;
  close(): Promise<void>;
}

export function createApp(config: Config, log: Logger): App {
  const database = openDatabase(config.databasePath);
  const events = createEventBus();
  const users = new UsersService({
    db: database.db,
    log,
    events,
    tokenTtlMs: config.tokenTtlMs,
    loginMaxFailures: config.loginMaxFailures,
    loginFailureWindowMs: config.loginFailureWindowMs,
  });
  let open = true;
  return {
    config,
    log,
    db: database.db,
    events,
    users,
    isReady: () => {
      if (!open) return false;
      try {
        database.sqlite.query('SELECT 1').get();
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (!open) return;
      open = false;
      database.close();
    },
  };
}
