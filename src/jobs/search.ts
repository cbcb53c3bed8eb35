import { type SQL, sql } from 'drizzle-orm';
import { badInput } from '../errors';

/** The longest `jobs(search:)` text; longer is BAD_USER_INPUT (a LIKE over every input is the cost that grows). */
export const SEARCH_MAX = 200;

/** The columns a search reads, as either dialect's jobs table (or the relational query's alias of it) names them. */
interface SearchedColumns {
  id: unknown;
  queue: unknown;
  kind: unknown;
  status: unknown;
  ownerId: unknown;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The jobs a console search means by `text`: its id (`42` or `#42`), a kind or status by name, or any of queue,
 * owner's username and input JSON containing it (case-insensitive). Plain SQL both dialects read the same way;
 * the input match scans job_inputs, fine for an operator's search, not for a hot path.
 */
export function searchCondition(jobs: SearchedColumns, textInput: string): SQL | undefined {
  const text = textInput.trim();
  if (text.length > SEARCH_MAX) throw badInput(`search: at most ${SEARCH_MAX} characters`, { field: 'search', maxLength: SEARCH_MAX });
  if (!text) return undefined;
  const pattern = `%${escapeLike(text.toLowerCase())}%`;
  const id = /^#?\d{1,15}$/.test(text) ? Number(text.replace('#', '')) : null;
  const name = text.toUpperCase();
  return sql`(${id === null ? sql`FALSE` : sql`${jobs.id} = ${id}`}
    OR ${jobs.kind} = ${name} OR ${jobs.status} = ${name}
    OR lower(${jobs.queue}) LIKE ${pattern} ESCAPE '\\'
    OR ${jobs.ownerId} IN (SELECT id FROM users WHERE lower(username) LIKE ${pattern} ESCAPE '\\')
    OR ${jobs.id} IN (SELECT job_id FROM job_inputs WHERE lower(input) LIKE ${pattern} ESCAPE '\\'))`;
}
