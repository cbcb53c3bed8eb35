import { z } from 'zod';
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

/** The field an issue is about, as our messages name it: `dateRange.from`, `expressions` (list positions left out). */
export const fieldOf = (issue: z.core.$ZodIssue) => issue.path.filter((key) => typeof key === 'string').join('.');

/**
 * Checks a value with a zod schema and gives its output; the first problem becomes BAD_USER_INPUT with the
 * message the schema set for it (the API's fixed wording, e.g. `invalid field simulations`) and the field it names.
 */
export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = fieldOf(issue);
  throw badInput(issue.message, field ? { field } : undefined);
}

/** An integer from `min` to `max`; anything else (a string, a float, null, out of range) gets `message`. */
export const integerIn = (min: number, max: number, message: string) => z.int({ error: message }).min(min, { error: message }).max(max, { error: message });
