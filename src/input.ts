import { z } from 'zod';
import { badInput } from './errors';

const longerThan = (field: string, max: number) => `${field} is longer than ${max.toLocaleString('en-US')} characters`;

/**
 * Refuses a user-supplied string longer than `max` characters. Called before any work is done with the string
 * (matching, hashing, suggesting, parsing), so a megabyte sent where a name belongs costs nothing and is never
 * repeated back in a message.
 */
export function checkLength(value: string, max: number, field: string): string {
  if (value.length > max) throw badInput(longerThan(field, max), { field, maxLength: max });
  return value;
}

/** checkLength inside a schema: a string of at most `max` characters, refused before any later check or transform looks at it. */
export const stringAtMost = (field: string, max: number, notAString = `invalid field ${field}: a string`) =>
  z.string({ error: notAString }).refine((value) => value.length <= max, { error: longerThan(field, max), params: { field, maxLength: max }, abort: true });

/** The field an issue is about, as our messages name it: `dateRange.from`, `expressions` (list positions left out). */
export const fieldOf = (issue: z.core.$ZodIssue) => issue.path.filter((key) => typeof key === 'string').join('.');

/**
 * Checks a value with a zod schema and gives its output; the first problem becomes BAD_USER_INPUT with the
 * message the schema set for it (the API's fixed wording, e.g. `invalid field simulations`), the field it names,
 * and what else a refinement says about it in its `params` (a length limit, a suggestion).
 */
export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = fieldOf(issue);
  const details = { ...(field ? { field } : {}), ...(issue.code === 'custom' ? issue.params : {}) };
  throw badInput(issue.message, Object.keys(details).length ? details : undefined);
}

/** An integer from `min` to `max`; anything else (a string, a float, null, out of range) gets `message`. */
export const integerIn = (min: number, max: number, message: string) => z.int({ error: message }).min(min, { error: message }).max(max, { error: message });
