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

/** A connection's `after`/`before`, refused when too long to be ours, before it is decoded (or quoted back). */
export function checkCursors(args: { after?: string | null; before?: string | null }): void {
  if (args.after != null) checkLength(args.after, MAX_CURSOR_LENGTH, 'after');
  if (args.before != null) checkLength(args.before, MAX_CURSOR_LENGTH, 'before');
}
