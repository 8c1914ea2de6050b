/**
 * The KV store's data plane: keys and values of every cached frame in two SharedArrayBuffers,
 * so that lane workers read and write them in place while the KV-pool actor (on the actor
 * thread) only hands out slot numbers. Nothing here synchronises: the pool's reservations
 * guarantee that no two lanes write one slot, and a slot is only read once committed.
 *
 * The model's K/V tensors are `[layers, 1, heads, T, headDim]` with the frames of T next to
 * each other inside every (layer, head); a slot is a frame across all (layer, head). Moving a
 * frame between the two is therefore `layers · heads` copies of `tokensPerFrame · headDim`
 * floats each.
 */
import { checkKvLayout, kvRowFloats, kvSlotFloats, kvTensorFloats, type KvLayout } from './kv-layout.js';

export { kvLayoutFor, kvTensorFloats, type KvLayout } from './kv-layout.js';

/**
 * A pair of slabs. A plain object of SharedArrayBuffers: pass it in `workerData` and every
 * worker sees the same memory.
 */
export interface KvSlabs {
  readonly layout: KvLayout;
  readonly keys: SharedArrayBuffer;
  readonly values: SharedArrayBuffer;
}

/** K/V tensors in the model's `past_key` / `present_key` layout. */
export interface KvTensors {
  readonly key: Float32Array<ArrayBufferLike>;
  readonly value: Float32Array<ArrayBufferLike>;
}

/** Thrown when a K/V tensor does not have the size its slots imply, or a slot is out of range. */
export class KvShapeError extends RangeError {
  readonly code = 'KV_SHAPE';
  constructor(message: string) {
    super(message);
    this.name = 'KvShapeError';
  }
}

/**
 * Allocates zeroed key and value slabs (fixed size: memory does not grow with the video).
 *
 * @example
 * ```ts
 * const slabs = allocateKvSlabs(kvLayoutFor(manifest, 27)); // pass to workers via workerData
 * ```
 */
export function allocateKvSlabs(layout: KvLayout): KvSlabs {
  checkKvLayout(layout);
  const bytes = layout.capacitySlots * kvSlotFloats(layout) * Float32Array.BYTES_PER_ELEMENT;
  return { layout, keys: new SharedArrayBuffer(bytes), values: new SharedArrayBuffer(bytes) };
}

function checkSlots(layout: KvLayout, slots: readonly number[]): void {
  for (const [i, slot] of slots.entries()) {
    if (!Number.isInteger(slot) || slot < 0 || slot >= layout.capacitySlots) {
      throw new KvShapeError(`slots[${i}]: KV slot ${slot} is outside the pool's ${layout.capacitySlots} slots`);
    }
  }
}

function describe(layout: KvLayout, frames: number): string {
  return `[${layout.layers}, 1, ${layout.heads}, ${frames * layout.tokensPerFrame}, ${layout.headDim}]`;
}

/**
 * Copies the given slots, in the given order, into the model's `past_key`/`past_value` layout
 * `[layers, 1, heads, slots.length · tokensPerFrame, headDim]`. Pass `out` to reuse buffers
 * across forwards; no slots gives empty tensors (T = 0).
 *
 * @example
 * ```ts
 * const past = gatherPast(slabs, readableSlots(pool).map((s) => s.slot)); // position order
 * gatherPast(slabs, slots, past); // again, into the same buffers
 * ```
 */
export function gatherPast(slabs: KvSlabs, slots: readonly number[], out?: KvTensors): KvTensors {
  return gatherPastFrom([{ slabs, slots }], out);
}

/**
 * {@link gatherPast} over several slabs of one layout, their slots joined in order (e.g. the
 * committed cache, then another store's frames).
 *
 * @example
 * ```ts
 * const past = gatherPastFrom([{ slabs: kv, slots: pastSlots }, { slabs: store.kv, slots: staleSlots }]);
 * ```
 */
export function gatherPastFrom(sources: readonly { readonly slabs: KvSlabs; readonly slots: readonly number[] }[], out?: KvTensors): KvTensors {
  const first = sources[0];
  if (!first) throw new KvShapeError('gatherPast: no slab to gather from');
  const { layout } = first.slabs;
  for (const { slabs, slots } of sources) {
    for (const dim of ['layers', 'heads', 'tokensPerFrame', 'headDim'] as const) {
      if (slabs.layout[dim] !== layout[dim]) throw new KvShapeError(`gatherPast: slabs of different layouts (${dim} ${slabs.layout[dim]} and ${layout[dim]})`);
    }
    checkSlots(slabs.layout, slots);
  }
  const count = sources.reduce((n, s) => n + s.slots.length, 0);
  const floats = kvTensorFloats(layout, count);
  if (out && (out.key.length !== floats || out.value.length !== floats)) {
    throw new KvShapeError(
      `gatherPast: ${count} slots fill ${floats} floats (${describe(layout, count)}), ` +
        `out has key ${out.key.length}, value ${out.value.length}`,
    );
  }
  const key = out?.key ?? new Float32Array(floats);
  const value = out?.value ?? new Float32Array(floats);
  const rows = kvRowFloats(layout);
  const perSlot = kvSlotFloats(layout);
  const views = sources.map((s) => ({ keys: new Float32Array(s.slabs.keys), values: new Float32Array(s.slabs.values), slots: s.slots }));
  let o = 0;
  for (let lh = 0; lh < layout.layers * layout.heads; lh++) {
    for (const { keys, values, slots } of views) {
      for (const slot of slots) {
        const src = slot * perSlot + lh * rows;
        key.set(keys.subarray(src, src + rows), o);
        value.set(values.subarray(src, src + rows), o);
        o += rows;
      }
    }
  }
  return { key, value };
}

/**
 * Writes frames of a forward's `present_key`/`present_value` (`[layers, 1, heads, frames ·
 * tokensPerFrame, headDim]`) into the slots: frame `firstFrame + i` into `slots[i]`. A joint
 * cascade call holds several blocks; only the caching block's frames are written, so `range`
 * says where they lie (by default the present holds exactly `slots.length` frames).
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
  presentKey: Float32Array<ArrayBufferLike>,
  presentValue: Float32Array<ArrayBufferLike>,
  range: { readonly firstFrame: number; readonly frames: number } = { firstFrame: 0, frames: slots.length },
): void {
  const { layout } = slabs;
  checkSlots(layout, slots);
  // Two frames into one slot would silently keep only the last: always a caller bug.
  if (new Set(slots).size !== slots.length) throw new KvShapeError(`scatterPresent: slots [${slots.join(', ')}] name a slot twice`);
  const { firstFrame, frames } = range;
  if (!Number.isInteger(firstFrame) || firstFrame < 0 || firstFrame + slots.length > frames) {
    throw new KvShapeError(`scatterPresent: frames ${firstFrame}..${firstFrame + slots.length} are outside the ${frames} frames of the present K/V`);
  }
  const expected = kvTensorFloats(layout, frames);
  if (presentKey.length !== expected || presentValue.length !== expected) {
    throw new KvShapeError(
      `scatterPresent: present K/V for ${frames} frames must hold ${expected} floats (${describe(layout, frames)}), ` +
        `got key ${presentKey.length}, value ${presentValue.length}`,
    );
  }
  const rows = kvRowFloats(layout);
  const perSlot = kvSlotFloats(layout);
  const keys = new Float32Array(slabs.keys);
  const values = new Float32Array(slabs.values);
  for (let lh = 0; lh < layout.layers * layout.heads; lh++) {
    for (let i = 0; i < slots.length; i++) {
      const src = (lh * frames + firstFrame + i) * rows;
      const dst = (slots[i] as number) * perSlot + lh * rows;
      keys.set(presentKey.subarray(src, src + rows), dst);
      values.set(presentValue.subarray(src, src + rows), dst);
    }
  }
}
