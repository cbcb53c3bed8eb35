import { defineJobKind } from 'jobgraph';
import { z } from 'zod';

const CHUNK = 100_000;

/** A CPU kind: counts the primes below n in chunks, reporting progress and stopping when asked (cancel, timeout). */
export default defineJobKind({
  name: 'countPrimes',
  description: 'Counts the prime numbers below n.',
  input: z.object({ n: z.number().int().min(2).max(1_000_000_000).describe('The bound (exclusive): 2..1,000,000,000.') }),
  result: z.object({ n: z.number().int().max(1_000_000_000), primes: z.number().int().max(1_000_000_000).describe('How many primes are below n.') }),
  run: async ({ n }, ctx) => {
    let primes = 0;
    for (let from = 2; from < n; from += CHUNK) {
      // Between chunks: a cancelled or timed-out job stops here, cleanly.
      ctx.signal.throwIfAborted();
      for (let k = from; k < Math.min(n, from + CHUNK); k++) if (isPrime(k)) primes++;
      ctx.progress(Math.min(1, (from + CHUNK) / n));
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return { n, primes };
  },
});

function isPrime(k: number): boolean {
  if (k < 4) return k > 1;
  if (k % 2 === 0) return false;
  for (let d = 3; d * d <= k; d += 2) if (k % d === 0) return false;
  return true;
}
