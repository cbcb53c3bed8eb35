import type { KernelContext } from './kernel';

/**
 * Splits `simulations` over `concurrency` workers as evenly as possible; the parts sum exactly to the total
 * and the first ones take the remainder (7,919 over 3 → [2640, 2640, 2639]).
 */
export function splitSimulations(simulations: number, concurrency: number): number[] {
  const base = Math.floor(simulations / concurrency);
  const remainder = simulations % concurrency;
  return Array.from({ length: concurrency }, (_, i) => base + (i < remainder ? 1 : 0));
}

/** The seed of one task: distinct per task of a job, mixed so neighbouring seeds give unrelated streams. */
export function taskSeed(jobSeed: number, taskIndex: number): number {
  let x = (jobSeed ^ Math.imul(taskIndex + 1, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0 || 1;
}

/**
 * Counts samples inside the quarter circle: points uniform in the unit square from a xorshift32 stream,
 * 16-bit coordinates taken at cell centres ((2x+1)/2¹⁷), and an exact integer test (2x+1)² + (2y+1)² < 2³⁴.
 */
export function countInside(samples: number, seed: number, context?: KernelContext): number {
  let state = seed >>> 0 || 1;
  let inside = 0;
  const chunk = 1 << 20;
  for (let done = 0; done < samples; ) {
    const end = Math.min(samples, done + chunk);
    for (let i = done; i < end; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const x = 2 * (state & 0xffff) + 1;
      const y = 2 * (state >>> 16) + 1;
      inside += x * x + y * y < 17179869184 ? 1 : 0;
    }
    done = end;
    context?.progress(done / samples);
  }
  return inside;
}

/** π from the counts of several tasks. */
export const piFromCounts = (inside: number, simulations: number) => (4 * inside) / simulations;
