import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { compileWat, wasmModuleSource } from '../scripts/build-wasm';
import { countInside, laneSeeds, countInsideScalar, loadWasmKernel, piFromCounts, splitSimulations, taskSeed } from '../src/compute/pi';
import { startTestServer, type TestServer } from './helpers/server';

describe('the π kernel', () => {
  test('the WebAssembly SIMD and JavaScript engines draw the same samples', () => {
    expect(loadWasmKernel()).not.toBeNull();
    for (const [samples, seed] of [[1, 1], [7, 2], [8, 3], [9, 4], [100, 5], [12_345, 6], [1_000_003, 0xffffffff]] as const) {
      expect(countInside(samples, seed, undefined, 'wasm')).toBe(countInside(samples, seed, undefined, 'js'));
    }
  });

  test('the committed WebAssembly matches its .wat source', async () => {
    const source = await Bun.file(new URL('../src/compute/wasm/pi.wat', import.meta.url)).text();
    const committed = await Bun.file(new URL('../src/compute/wasm/pi.wasm.ts', import.meta.url)).text();
    expect(committed).toBe(wasmModuleSource('pi', await compileWat(source, 'pi.wat')));
  });

  test('the inside test is exact at the circle boundary', () => {
    // One lane stepped by hand from a known state: the kernel counts exactly the points with x(x+1)+y(y+1) < 2^30.
    const state = laneSeeds(99);
    const copy = state.slice();
    const inside = countInsideScalar(state, 1000);
    let expected = 0;
    for (let step = 0; step < 1000; step++) {
      for (let lane = 0; lane < 8; lane++) {
        let s = copy[lane]!;
        s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
        copy[lane] = s >>> 0;
        const x = (s >>> 0) & 0x7fff, y = (s >>> 0) >>> 17;
        if ((2 * x + 1) ** 2 + (2 * y + 1) ** 2 < 2 ** 32) expected++;
      }
    }
    expect(inside).toBe(expected);
    expect([...state]).toEqual([...copy]);
  });

  test('statistically sound: unbiased within its standard error, and the error shrinks like 1/√n', () => {
    const sigmaAt = (n: number) => 4 * Math.sqrt((Math.PI / 4) * (1 - Math.PI / 4) / n);
    const runs = 300;
    const rmsError: number[] = [];
    for (const n of [10_000, 1_000_000]) {
      const estimates = Array.from({ length: runs }, (_, i) => piFromCounts(countInside(n, taskSeed(1234, i)), n));
      const mean = estimates.reduce((a, b) => a + b, 0) / runs;
      // Unbiased: the mean of 300 estimates lies within 4 standard errors of π.
      expect(Math.abs(mean - Math.PI)).toBeLessThan((4 * sigmaAt(n)) / Math.sqrt(runs));
      const rms = Math.sqrt(estimates.reduce((a, e) => a + (e - Math.PI) ** 2, 0) / runs);
      // The spread is the binomial one, 4·√(p(1−p)/n) — within 20% with 300 runs.
      expect(rms / sigmaAt(n)).toBeGreaterThan(0.8);
      expect(rms / sigmaAt(n)).toBeLessThan(1.2);
      rmsError.push(rms);
    }
    // 100× the samples → about a tenth of the error.
    expect(rmsError[0]! / rmsError[1]!).toBeGreaterThan(8);
    expect(rmsError[0]! / rmsError[1]!).toBeLessThan(12.5);
  });

  test('different task seeds give different streams', () => {
    const seeds = new Set(Array.from({ length: 8 }, (_, i) => taskSeed(42, i)));
    expect(seeds.size).toBe(8);
    const counts = new Set([...seeds].map((seed) => countInside(100_000, seed)));
    expect(counts.size).toBeGreaterThan(4);
    expect(splitSimulations(7919, 3)).toEqual([2640, 2640, 2639]);
  });
});

describe('estimatePi through the API', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = (await server.userWithRole('USER')).token;
  });
  afterAll(() => server.stop());

  const estimate = (simulations: number, concurrency?: number, seed?: number) =>
    server.gql(
      'query($s: Int!, $c: Int, $seed: Float) { estimatePi(simulations: $s, concurrency: $c, seed: $seed) { simulations concurrency pi simulationsDistribution seconds seed } }',
      { s: simulations, c: concurrency, seed },
      token,
    );

  test('100,000,000 samples over 8 tasks: exact split, accurate, and fast', async () => {
    const result = await estimate(100_000_000, 8);
    expect(result.errors).toBeUndefined();
    const pi = result.data!.estimatePi;
    expect(pi.simulationsDistribution).toEqual(Array(8).fill(12_500_000));
    expect(Math.abs(pi.pi - Math.PI)).toBeLessThan(0.001);
    expect(pi.seconds).toBeGreaterThan(0);
  });

  test('the source system’s expectations, and reproducible with a seed', async () => {
    const small = await estimate(100);
    expect(Math.abs(small.data!.estimatePi.pi - Math.PI)).toBeLessThan(1);
    const a = await estimate(7919, 3, 5);
    const b = await estimate(7919, 3, 5);
    expect(a.data!.estimatePi.simulationsDistribution).toEqual([2640, 2640, 2639]);
    expect(a.data!.estimatePi.pi).toBe(b.data!.estimatePi.pi);
    // 100,000 samples are more accurate than 1,000 on average.
    const meanError = async (n: number) => {
      let sum = 0;
      for (let seed = 0; seed < 20; seed++) sum += Math.abs((await estimate(n, 2, seed)).data!.estimatePi.pi - Math.PI);
      return sum / 20;
    };
    expect(await meanError(100_000)).toBeLessThan(await meanError(1_000));
  });

  test('validation with the source messages; a missing token is `user info error`', async () => {
    for (const [simulations, concurrency, message] of [
      [99, 1, 'invalid field simulations'],
      [100_000_001, 1, 'invalid field simulations'],
      [1000, 0, 'invalid field concurrency'],
      [1000, 9, 'invalid field concurrency'],
      [1000, -100, 'invalid field concurrency'],
    ] as const) {
      const result = await estimate(simulations, concurrency);
      expect(result.errors?.[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
    }
    const anonymous = await server.gql('{ estimatePi(simulations: 1000) { pi } }');
    expect(anonymous.errors?.[0]).toMatchObject({ message: 'user info error', extensions: { code: 'UNAUTHENTICATED' } });
  });
});
