/**
 * The KV store's data plane: keys and values of every cached frame in two SharedArrayBuffers,
 * so that lane workers read and write them in place while the KV-pool actor (on the actor
 * thread) only hands out slot numbers.
 *
 * Layout of each slab: float32 `[slot][layer][head][tokenInFrame][headDim]`. One slot holds
 * one latent frame's K (or V) for every layer, so evicting a frame frees exactly one slot.
 */
import type { ModelManifest } from '../model/manifest-types.js';

export interface KvLayout {
  readonly capacitySlots: number;
  readonly layers: number;
  readonly heads: number;
  readonly tokensPerFrame: number;
  readonly headDim: number;
}

export interface KvSlabs {
  readonly layout: KvLayout;
  readonly keys: SharedArrayBuffer;
  readonly values: SharedArrayBuffer;
}

/** Thrown when a K/V tensor does not have the size its slots imply. */
export class KvShapeError extends RangeError {
  readonly code = 'KV_SHAPE';
  constructor(message: string) {
    super(message);
    this.name = 'KvShapeError';
  }
}

/** The slab layout for a model and a number of slots. */
export function kvLayoutFor(manifest: ModelManifest, capacitySlots: number): KvLayout {
  return {
    capacitySlots,
    layers: manifest.layers,
    heads: manifest.heads,
    tokensPerFrame: manifest.tokensPerFrame,
    headDim: manifest.headDim,
  };
}

const rowsOf = (layout: KvLayout) => layout.tokensPerFrame * layout.headDim;
const slotFloats = (layout: KvLayout) => layout.layers * layout.heads * rowsOf(layout);

/**
 * Allocates zeroed key and value slabs (fixed size: memory does not grow with the video).
 *
 * @example
 * ```ts
 * const slabs = allocateKvSlabs(kvLayoutFor(manifest, 27)); // pass to workers via workerData
 * ```
 */
export function allocateKvSlabs(layout: KvLayout): KvSlabs {
  const bytes = layout.capacitySlots * slotFloats(layout) * 4;
  return { layout, keys: new SharedArrayBuffer(bytes), values: new SharedArrayBuffer(bytes) };
}

function checkSlots(layout: KvLayout, slots: readonly number[]): void {
  for (const slot of slots) {
    if (!Number.isInteger(slot) || slot < 0 || slot >= layout.capacitySlots) {
      throw new KvShapeError(`KV slot ${slot} is outside the pool's ${layout.capacitySlots} slots`);
    }
  }
}

/**
 * Copies the given slots, in order, into the model's `past_key`/`past_value` layout
 * `[layers, 1, heads, slots.length · tokensPerFrame, headDim]`.
 *
 * @example
 * ```ts
 * const past = gatherPast(slabs, [0, 1, 2]); // frames in position order
 * ```
 */
export function gatherPast(slabs: KvSlabs, slots: readonly number[]): { key: Float32Array; value: Float32Array } {
  const { layout } = slabs;
  checkSlots(layout, slots);
  const rows = rowsOf(layout);
  const perSlot = slotFloats(layout);
  const keys = new Float32Array(slabs.keys);
  const values = new Float32Array(slabs.values);
  const key = new Float32Array(layout.layers * layout.heads * slots.length * rows);
  const value = new Float32Array(key.length);
  let o = 0;
  for (let lh = 0; lh < layout.layers * layout.heads; lh++) {
    for (const slot of slots) {
      const src = slot * perSlot + lh * rows;
      key.set(keys.subarray(src, src + rows), o);
      value.set(values.subarray(src, src + rows), o);
      o += rows;
    }
  }
  return { key, value };
}

/**
 * Writes frames of a forward's `present_key`/`present_value` (`[layers, 1, heads, frames ·
 * tokensPerFrame, headDim]`) into the slots: frame `firstFrame + i` into `slots[i]`. A joint
 * cascade call holds several blocks; only the caching block's frames are written.
 *
 * @example
 * ```ts
 * scatterPresent(slabs, [5, 6, 7], outputs.present_key.data, outputs.present_value.data);
 * scatterPresent(slabs, [5, 6, 7], key, value, { firstFrame: 0, frames: 15 }); // oldest of five blocks
 * ```
 */
export function scatterPresent(
  slabs: KvSlabs,
  slots: readonly number[],
  presentKey: Float32Array,
  presentValue: Float32Array,
  range: { readonly firstFrame: number; readonly frames: number } = { firstFrame: 0, frames: slots.length },
): void {
  const { layout } = slabs;
  checkSlots(layout, slots);
  const rows = rowsOf(layout);
  const perSlot = slotFloats(layout);
  const { firstFrame, frames } = range;
  if (firstFrame < 0 || firstFrame + slots.length > frames) {
    throw new KvShapeError(`frames ${firstFrame}..${firstFrame + slots.length} are outside the ${frames} frames of the present K/V`);
  }
  const expected = layout.layers * layout.heads * frames * rows;
  if (presentKey.length !== expected || presentValue.length !== expected) {
    throw new KvShapeError(
      `present K/V for ${frames} frames must hold ${expected} floats ` +
        `([${layout.layers}, 1, ${layout.heads}, ${frames * layout.tokensPerFrame}, ${layout.headDim}]), ` +
        `got key ${presentKey.length}, value ${presentValue.length}`,
    );
  }
  const keys = new Float32Array(slabs.keys);
  const values = new Float32Array(slabs.values);
  for (let lh = 0; lh < layout.layers * layout.heads; lh++) {
    slots.forEach((slot, i) => {
      const src = (lh * frames + firstFrame + i) * rows;
      const dst = slot * perSlot + lh * rows;
      keys.set(presentKey.subarray(src, src + rows), dst);
      values.set(presentValue.subarray(src, src + rows), dst);
    });
  }
}
