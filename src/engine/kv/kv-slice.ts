/**
 * KV slices: frames of the K/V cache as one msgpack-framed message, for whatever must carry
 * them across a process boundary (another process's lanes, a saved session). In process, lanes
 * share the slabs and need no copy. The frame format is the codec's (`encodeKvSlice`).
 */
import { CorruptMessageError, decodeKvSlice, encodeKvSlice } from '../../protocol/codec.js';
import { gatherPast, scatterPresent, type KvSlabs } from './kv-slabs.js';

/**
 * Packs the K/V of `slots` (frames at `positions`) into one frame.
 *
 * @example
 * ```ts
 * const bytes = exportKvSlice(slabs, [4, 5, 6], [9, 10, 11]);
 * ```
 */
export function exportKvSlice(slabs: KvSlabs, slots: readonly number[], positions: readonly number[]): Uint8Array {
  if (slots.length !== positions.length) throw new RangeError(`${slots.length} slots but ${positions.length} positions`);
  const { layers, heads, tokensPerFrame, headDim } = slabs.layout;
  const { key, value } = gatherPast(slabs, slots);
  return encodeKvSlice({ positions, layers, heads, tokensPerFrame, headDim, key, value });
}

/**
 * Checks a KV slice against the slabs' layout and writes its frames into `slots`; returns the
 * frames' positions. A slice of another model or a corrupt one throws {@link CorruptMessageError}.
 *
 * @example
 * ```ts
 * const positions = importKvSlice(bytes, slabs, [0, 1, 2]);
 * ```
 */
export function importKvSlice(bytes: Uint8Array, slabs: KvSlabs, slots: readonly number[]): number[] {
  const slice = decodeKvSlice(bytes);
  for (const field of ['layers', 'heads', 'tokensPerFrame', 'headDim'] as const) {
    if (slice[field] !== slabs.layout[field]) {
      throw new CorruptMessageError(`kv slice: meta.${field}`, `is ${slice[field]}, the pool's model has ${slabs.layout[field]}`);
    }
  }
  if (slice.positions.length !== slots.length) {
    throw new CorruptMessageError('kv slice: meta.positions', `holds ${slice.positions.length} frames, ${slots.length} slots given`);
  }
  scatterPresent(slabs, slots, slice.key, slice.value);
  return slice.positions;
}
