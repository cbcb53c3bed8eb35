import { badInput } from './errors';

/**
 * Refuses a user-supplied string longer than `max` characters. Called before any work is done with the string
 * (matching, hashing, suggesting, parsing), so a megabyte sent where a name belongs costs nothing and is never
 * repeated back in a message.
 */
export function checkLength(value: string, max: number, field: string): string {
  if (value.length > max) throw badInput(`${field} is longer than ${max.toLocaleString('en-US')} characters`, { field, maxLength: max });
  return value;
}
