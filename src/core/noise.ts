/**
 * Counter-based Gaussian noise (Philox4x32-10).
 *
 * Noise is a pure function of (seed, block, step, element index): whichever lane draws it, in
 * whatever order the OS schedules threads, the same seed gives the same numbers. Nothing here
 * keeps state between calls on purpose.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 (exact, without BigInt). */
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 0x10000)) >>> 0;
}

/**
 * One Philox4x32-10 block: four uint32 outputs for a 128-bit counter and a 64-bit key.
 * Writes into `out` to avoid allocating in hot loops.
 */
export function philox4x32(
  c0: number, c1: number, c2: number, c3: number,
  k0: number, k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0, x1 = c1 >>> 0, x2 = c2 >>> 0, x3 = c3 >>> 0;
  let key0 = k0 >>> 0, key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3;
}

/** What a noise stream is for; keeps the streams of one (seed, block, step) apart. */
export const NoiseStream = {
  /** The sampler's initial and re-noising noise. */
  sampler: 0,
  /** Deterministic weight initialisation of built models. */
  weights: 1,
} as const;
export type NoiseStream = (typeof NoiseStream)[keyof typeof NoiseStream];

/** Identifies one noise tensor: the same key always gives the same numbers. */
export interface NoiseKey {
  readonly seed: number;
  readonly block: number;
  readonly step: number;
  readonly stream?: NoiseStream;
}

const TWO_PI = 2 * Math.PI;
const INV_2_32 = 1 / 4294967296;

/**
 * Fills `out` with standard normal samples that depend only on `key` and the element index.
 *
 * @example
 * ```ts
 * const eps = gaussianNoise({ seed: 42, block: 3, step: 1 }, new Float32Array(3 * 4 * 8 * 8));
 * ```
 */
export function gaussianNoise(key: NoiseKey, out: Float32Array): Float32Array {
  const seed = key.seed;
  // The seed may exceed 32 bits (JS safe integers): split it over the two key words.
  const k0 = seed >>> 0;
  const k1 = Math.floor(seed / 4294967296) >>> 0;
  const bits = new Uint32Array(4);
  const stream = key.stream ?? NoiseStream.sampler;
  for (let i = 0, counter = 0; i < out.length; counter++) {
    philox4x32(counter, key.block, key.step, stream, k0, k1, bits);
    for (let pair = 0; pair < 2 && i < out.length; pair++) {
      const u1 = ((bits[pair * 2] as number) + 0.5) * INV_2_32;
      const u2 = ((bits[pair * 2 + 1] as number) + 0.5) * INV_2_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i++] = r * Math.cos(TWO_PI * u2);
      if (i < out.length) out[i++] = r * Math.sin(TWO_PI * u2);
    }
  }
  return out;
}
