import type { KernelContext } from './kernel';
import { piWasmBase64 } from './wasm/pi.wasm';

/**
 * Splits `simulations` over `concurrency` workers as evenly as possible; the parts sum exactly to the total
 * and the first ones take the remainder (7,919 over 3 → [2640, 2640, 2639]).
 */
export function splitSimulations(simulations: number, concurrency: number): number[] {
  const base = Math.floor(simulations / concurrency);
  const remainder = simulations % concurrency;
  return Array.from({ length: concurrency }, (_, i) => base + (i < remainder ? 1 : 0));
}

/** A 32-bit finaliser (murmur3's): neighbouring inputs give unrelated outputs. */
function mix32(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The seed of one task: distinct per task of a job, mixed so neighbouring seeds give unrelated streams. */
export function taskSeed(jobSeed: number, taskIndex: number): number {
  return mix32(jobSeed ^ Math.imul(taskIndex + 1, 0x9e3779b9)) || 1;
}

/** Independent generator streams per task: enough for two 4-lane SIMD vectors, or eight scalar registers. */
export const PI_LANES = 8;

/** The starting state of each lane (xorshift32 states must not be zero). */
export function laneSeeds(seed: number): Uint32Array {
  const state = new Uint32Array(PI_LANES);
  for (let lane = 0; lane < PI_LANES; lane++) state[lane] = mix32((seed >>> 0) + Math.imul(lane + 1, 0x9e3779b9)) || lane + 1;
  return state;
}

// The sample: 15-bit coordinates x = s & 0x7fff, y = s >>> 17 of one xorshift32 output, taken at cell centres
// ((2x+1)/2¹⁶). The point is inside the quarter circle when (2x+1)² + (2y+1)² < 2³², i.e. x(x+1) + y(y+1) < 2³⁰ —
// an exact integer test that fits in 31 bits, so SIMD i32 lanes and JavaScript int arithmetic agree bit for bit.
// The 2³⁰-cell grid biases π̂ by −1.7·10⁻⁷ (counted exactly; see docs/api.md, "Simulations and the calculator"), far below the sampling error of the
// largest run (1.6·10⁻⁴ at 10⁸ samples).
const INSIDE_LIMIT = 0x40000000;

/** The JavaScript kernel: the same eight streams and test as the WebAssembly one, for when SIMD is missing. */
export function countInsideScalar(state: Uint32Array, groups: number): number {
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  let inside = 0;
  const L = INSIDE_LIMIT;
  // Eight independent streams per iteration keep the CPU's integer units busy; the `>>> 31` of a negative
  // difference is the branch-free "inside" bit.
  for (let i = 0; i < groups; i++) {
    a ^= a << 13; a ^= a >>> 17; a ^= a << 5;
    b ^= b << 13; b ^= b >>> 17; b ^= b << 5;
    c ^= c << 13; c ^= c >>> 17; c ^= c << 5;
    d ^= d << 13; d ^= d >>> 17; d ^= d << 5;
    e ^= e << 13; e ^= e >>> 17; e ^= e << 5;
    f ^= f << 13; f ^= f >>> 17; f ^= f << 5;
    g ^= g << 13; g ^= g >>> 17; g ^= g << 5;
    h ^= h << 13; h ^= h >>> 17; h ^= h << 5;
    const ax = a & 0x7fff, ay = a >>> 17, bx = b & 0x7fff, by = b >>> 17;
    const cx = c & 0x7fff, cy = c >>> 17, dx = d & 0x7fff, dy = d >>> 17;
    const ex = e & 0x7fff, ey = e >>> 17, fx = f & 0x7fff, fy = f >>> 17;
    const gx = g & 0x7fff, gy = g >>> 17, hx = h & 0x7fff, hy = h >>> 17;
    inside =
      (inside +
        ((((ax * ax + ax) | 0) - ((L - ay * ay - ay) | 0)) >>> 31) +
        ((((bx * bx + bx) | 0) - ((L - by * by - by) | 0)) >>> 31) +
        ((((cx * cx + cx) | 0) - ((L - cy * cy - cy) | 0)) >>> 31) +
        ((((dx * dx + dx) | 0) - ((L - dy * dy - dy) | 0)) >>> 31) +
        ((((ex * ex + ex) | 0) - ((L - ey * ey - ey) | 0)) >>> 31) +
        ((((fx * fx + fx) | 0) - ((L - fy * fy - fy) | 0)) >>> 31) +
        ((((gx * gx + gx) | 0) - ((L - gy * gy - gy) | 0)) >>> 31) +
        ((((hx * hx + hx) | 0) - ((L - hy * hy - hy) | 0)) >>> 31)) |
      0;
  }
  state[0] = a; state[1] = b; state[2] = c; state[3] = d;
  state[4] = e; state[5] = f; state[6] = g; state[7] = h;
  return inside;
}

/** Advances every lane once and counts the first `lanes` of them: the samples left over after whole groups. */
function countPartialGroup(state: Uint32Array, lanes: number): number {
  let inside = 0;
  for (let lane = 0; lane < PI_LANES; lane++) {
    let s = state[lane]!;
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    state[lane] = s;
    const x = s & 0x7fff, y = s >>> 17;
    if (lane < lanes && x * (x + 1) + y * (y + 1) < INSIDE_LIMIT) inside++;
  }
  return inside;
}

interface WasmKernel {
  state: Uint32Array;
  count(groups: number): number;
}

let wasmKernel: WasmKernel | null | undefined;

/** The WebAssembly SIMD kernel, compiled once per thread; null where the engine lacks SIMD. */
export function loadWasmKernel(): WasmKernel | null {
  if (wasmKernel !== undefined) return wasmKernel;
  const bytes = Uint8Array.fromBase64(piWasmBase64);
  if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return (wasmKernel = null);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const exports = instance.exports as { memory: WebAssembly.Memory; count(groups: number): number };
  return (wasmKernel = { state: new Uint32Array(exports.memory.buffer, 0, PI_LANES), count: exports.count });
}

export type PiEngine = 'wasm' | 'js';

/** Groups (of 8 samples) per call between progress reports: ~10 ms of work. */
const GROUPS_PER_STEP = 1 << 21;

/**
 * Counts samples inside the quarter circle. Both engines draw the same samples from the same seed, so the
 * count depends only on (samples, seed).
 */
export function countInside(samples: number, seed: number, context?: KernelContext, engine?: PiEngine): number {
  const wasm = engine === 'js' ? null : loadWasmKernel();
  const state = laneSeeds(seed);
  const groups = Math.floor(samples / PI_LANES);
  let inside = 0;
  if (wasm) wasm.state.set(state);
  for (let done = 0; done < groups; ) {
    const step = Math.min(GROUPS_PER_STEP, groups - done);
    inside += wasm ? wasm.count(step) : countInsideScalar(state, step);
    done += step;
    context?.progress(done / groups);
  }
  if (wasm) state.set(wasm.state);
  return inside + countPartialGroup(state, samples % PI_LANES);
}

/** π from the counts of several tasks. */
export const piFromCounts = (inside: number, simulations: number) => (4 * inside) / simulations;
