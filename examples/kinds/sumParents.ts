import { defineJobKind } from 'jobgraph';
import { z } from 'zod';

/**
 * A kind that reads its flow parents' results: sums the numeric field `field` of each parent's result (keys are the
 * parents' keys in the flow). Outside a flow it has no parents and sums to 0.
 */
export default defineJobKind({
  name: 'sumParents',
  description: 'Sums one numeric field of its flow parents’ results.',
  input: z.object({ field: z.string().min(1).describe('The result field to add up, e.g. `words`.') }),
  result: z.object({
    sum: z.number().describe('The total.'),
    parents: z.number().int().max(10_000).describe('How many parents had the field.'),
  }),
  run: async ({ field }, ctx) => {
    let sum = 0;
    let parents = 0;
    for (const result of Object.values(ctx.parents)) {
      const value = (result as Record<string, unknown> | null)?.[field];
      if (typeof value === 'number') {
        sum += value;
        parents++;
      }
    }
    return { sum, parents };
  },
});
