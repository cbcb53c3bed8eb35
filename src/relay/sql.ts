// The relay cache's statements, both databases side by side (see src/db/statements.ts), and its row as either
// driver gives it.
import type { relayCache } from '../db/schema';
import { dateOf, type Statement } from '../db/statements';

/** The same text on both databases. */
const both = (text: string): Statement => ({ sqlite: text, postgres: text });

/** Every stored answer, least recently used first. */
export const allEntries = both(`SELECT * FROM relay_cache ORDER BY last_used_at`);

/** An answer stored, or stored again over the one for its url. */
export const storeEntry = both(`
  INSERT INTO relay_cache (url, status, headers, body, policy, fetched_at, last_used_at)
  VALUES ($url, $status, $headers, $body, $policy, $fetchedAt, $lastUsedAt)
  ON CONFLICT (url) DO UPDATE SET status = excluded.status, headers = excluded.headers, body = excluded.body,
    policy = excluded.policy, fetched_at = excluded.fetched_at, last_used_at = excluded.last_used_at`);

export const touchEntry = both(`UPDATE relay_cache SET last_used_at = $lastUsedAt WHERE url = $url`);

export const deleteEntry = both(`DELETE FROM relay_cache WHERE url = $url`);

export const deleteAll = both(`DELETE FROM relay_cache`);

/** A `relay_cache` row as either driver gives it (JSON as text, times in milliseconds). */
export interface RelaySqlRow {
  url: string;
  status: number;
  headers: string;
  body: string;
  policy: string;
  fetched_at: number | string;
  last_used_at: number | string;
}

export const toRelayRow = (row: RelaySqlRow): typeof relayCache.$inferSelect => ({
  url: row.url,
  status: row.status,
  headers: JSON.parse(row.headers),
  body: row.body,
  policy: JSON.parse(row.policy),
  fetchedAt: dateOf(row.fetched_at),
  lastUsedAt: dateOf(row.last_used_at),
});
