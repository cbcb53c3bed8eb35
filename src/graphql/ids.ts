import { badInput } from '../errors';

/** Our IDs are positive integers sent as strings; anything else is bad input, not a 500. */
export function parseId(id: string | number, what: string): number {
  const value = typeof id === 'number' ? id : /^\d{1,15}$/.test(id) ? Number(id) : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0) throw badInput(`invalid ${what} id "${id}"`, { field: 'id' });
  return value;
}
