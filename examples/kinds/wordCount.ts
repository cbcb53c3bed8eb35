import { defineJobKind } from 'jobgraph';
import { z } from 'zod';

/** The smallest useful kind: counts the words of a text. */
export default defineJobKind({
  name: 'wordCount',
  description: 'Counts the words of a text.',
  input: z.object({ text: z.string().max(1_000_000).describe('The text, up to a million characters.') }),
  result: z.object({ words: z.number().int().min(0).max(1_000_000).describe('How many words it has.') }),
  run: async (input) => ({ words: input.text.split(/\s+/).filter(Boolean).length }),
});
