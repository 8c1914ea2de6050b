/**
 * KV slices: frames of the K/V cache as one msgpack-framed message, for whatever must carry
 * them across a process boundary (another process's lanes, a saved session). In process, lanes
 * share the slabs and need no copy.
 */
import { CorruptMessageError, decodeTensorFrame, encodeTensorFrame } from '../../protocol/codec.js';
import { gatherPast, scatterPresent, type KvSlabs } from './kv-slabs.js';

interface KvSliceMeta {
  readonly kind: 'kv-slice';
  readonly positions: readonly number[];
  readonly layers: number;
  readonly heads: number;
  readonly tokensPerFrame: number;
  readonly headDim: number;
}

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
  const shape = [layers, 1, heads, slots.length * tokensPerFrame, headDim];
  const meta: KvSliceMeta = { kind: 'kv-slice', positions: [...positions], layers, heads, tokensPerFrame, headDim };
  return encodeTensorFrame({ ...meta }, { key: { shape, data: key }, value: { shape, data: value } });
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
  const { meta, tensors } = decodeTensorFrame(bytes);
  if (meta.kind !== 'kv-slice') throw new CorruptMessageError('kv slice: meta.kind', `expected "kv-slice", got ${JSON.stringify(meta.kind)}`);
  for (const field of ['layers', 'heads', 'tokensPerFrame', 'headDim'] as const) {
    if (meta[field] !== slabs.layout[field]) {
      throw new CorruptMessageError(`kv slice: meta.${field}`, `is ${JSON.stringify(meta[field])}, the pool's model has ${slabs.layout[field]}`);
    }
  }
  const positions = meta.positions;
  if (!Array.isArray(positions) || !positions.every(Number.isInteger)) throw new CorruptMessageError('kv slice: meta.positions', 'is not a list of frame positions');
  if (positions.length !== slots.length) throw new CorruptMessageError('kv slice: meta.positions', `holds ${positions.length} frames, ${slots.length} slots given`);
  const key = tensors.key?.data;
  const value = tensors.value?.data;
  if (!(key instanceof Float32Array) || !(value instanceof Float32Array)) throw new CorruptMessageError('kv slice: tensors', 'needs float32 "key" and "value"');
  scatterPresent(slabs, slots, key, value);
  return positions as number[];
}
