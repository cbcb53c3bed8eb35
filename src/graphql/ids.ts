import { badInput } from '../errors';
import { checkLength } from '../input';

/** Longer than any ID we hand out (15 digits), with room for what a client might pad it with. */
const MAX_ID_LENGTH = 32;

/** Our IDs are positive integers sent as strings; anything else is bad input, not a 500. */
export function parseId(id: string | number, what: string): number {
  if (typeof id === 'string') checkLength(id, MAX_ID_LENGTH, 'id');
  const value = typeof id === 'number' ? id : /^\d{1,15}$/.test(id) ? Number(id) : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0) throw badInput(`invalid ${what} id "${id}"`, { field: 'id' });
  return value;
}

/** Longer than any cursor we hand out (a few dozen characters). */
const MAX_CURSOR_LENGTH = 256;

/** The most rows one page of a connection holds (`first` or `last`); the builder gives connections the same bound. */
export const MAX_PAGE_SIZE = 100;

/**
 * A connection's paging arguments: `after`/`before` refused when too long to be ours, before they are decoded (or
 * quoted back); `first`/`last` above MAX_PAGE_SIZE refused with the maximum, rather than quietly given fewer rows.
 */
export function checkPaging(args: { after?: string | null; before?: string | null; first?: number | null; last?: number | null }): void {
  if (args.after != null) checkLength(args.after, MAX_CURSOR_LENGTH, 'after');
  if (args.before != null) checkLength(args.before, MAX_CURSOR_LENGTH, 'before');
  for (const field of ['first', 'last'] as const) {
    const size = args[field];
    if (size != null && (size < 0 || size > MAX_PAGE_SIZE)) {
      throw badInput(`${field} must be from 0 to ${MAX_PAGE_SIZE} (the most a page holds), got ${size}; page on with after/before`, { field, max: MAX_PAGE_SIZE });
    }
  }
}
