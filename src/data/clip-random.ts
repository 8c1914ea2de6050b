/**
 * Counter-based uniform numbers for clip sampling. Clip `index` of a dataset is a pure
 * function of (seed, index): workers can render any slice of a dataset in any order, and
 * evaluation can rebuild clip 17 without drawing clips 0..16 first.
 */
import { philox4x32 } from '../core/noise.js';
import { InvalidClipError } from './errors.js';

const TWO_POW_32 = 2 ** 32;

/**
 * `count` uniform numbers in [0, 1) for clip `index` of dataset `seed`. Philox keyed by the
 * seed, the counter holds (block of four, index): the same (seed, index) always gives the
 * same numbers, and number i does not depend on `count`.
 *
 * @throws InvalidClipError when seed or index is not a non-negative safe integer
 * @example
 * ```ts
 * const [a, b] = clipUniforms(1, 17, 2); // same two numbers on every call
 * ```
 */
export function clipUniforms(seed: number, index: number, count: number): number[] {
  for (const [where, value] of [['seed', seed], ['index', index]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidClipError(where, `expected a non-negative safe integer, got ${JSON.stringify(value)}`);
    }
  }
  const out: number[] = [];
  const words = new Uint32Array(4);
  for (let block = 0; out.length < count; block++) {
    philox4x32(block, index % TWO_POW_32, Math.floor(index / TWO_POW_32), 0x5b1e, seed % TWO_POW_32, Math.floor(seed / TWO_POW_32), words);
    for (const word of words) if (out.length < count) out.push(word / TWO_POW_32);
  }
  return out;
}

/**
 * Picks one item of a list with a uniform number in [0, 1).
 *
 * @example
 * ```ts
 * pick(['a', 'b'], 0.7); // 'b'
 * ```
 */
export function pick<T>(items: readonly T[], uniform: number): T {
  const item = items[Math.min(items.length - 1, Math.floor(uniform * items.length))];
  if (item === undefined) throw new InvalidClipError('items', 'cannot pick from an empty list');
  return item;
}
