// How fast this machine is right now, for the tests whose bounds on a slow answer must grow with the load rather
// than rest on a fixed number of milliseconds (test/fuzz.test.ts, test/stall.test.ts).
import { parse } from 'graphql';

/** A document of 10,000 fields (~190 KB): parsing it is the yardstick. */
export const LARGE_DOCUMENT = `{ ${Array.from({ length: 10_000 }, (_, i) => `f${i}: __typename`).join(' ')} }`;

/** The median time this process takes to parse LARGE_DOCUMENT now. */
export function largeParseMs(): number {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    parse(LARGE_DOCUMENT);
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b)[1]!;
}
