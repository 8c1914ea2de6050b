/**
 * The shape of the KV slabs. One slot holds one latent frame's K (or V) for every layer, so
 * evicting a frame frees exactly one slot and the slabs never grow with the video.
 *
 * Each slab is float32 `[capacitySlots][layers][heads][tokensPerFrame][headDim]`: slot-major,
 * so a frame is one contiguous run that a lane writes in place after its cache step.
 */
import type { ModelManifest } from '../../core/manifest-types.js';

/** Dimensions of a pair of KV slabs. */
export interface KvLayout {
  readonly capacitySlots: number;
  readonly layers: number;
  readonly heads: number;
  readonly tokensPerFrame: number;
  readonly headDim: number;
}

/**
 * The slab layout for a model and a number of slots (see `capacityFor` in `core/schedule.ts`).
 *
 * @example
 * ```ts
 * const layout = kvLayoutFor(manifest, capacityFor({ sinkFrames: 3, windowFrames: 9, framesPerBlock: 3, inFlightBlocks: 5 }));
 * ```
 */
export function kvLayoutFor(manifest: Pick<ModelManifest, 'layers' | 'heads' | 'tokensPerFrame' | 'headDim'>, capacitySlots: number): KvLayout {
  return checkKvLayout({
    capacitySlots,
    layers: manifest.layers,
    heads: manifest.heads,
    tokensPerFrame: manifest.tokensPerFrame,
    headDim: manifest.headDim,
  });
}

/**
 * Returns the layout if every dimension is a positive integer (capacity may be 0), else throws
 * a RangeError naming the field.
 *
 * @example
 * ```ts
 * checkKvLayout({ capacitySlots: 27, layers: 4, heads: 4, tokensPerFrame: 16, headDim: 32 });
 * ```
 */
export function checkKvLayout(layout: KvLayout): KvLayout {
  if (!Number.isSafeInteger(layout.capacitySlots) || layout.capacitySlots < 0) {
    throw new RangeError(`KV layout: capacitySlots ${layout.capacitySlots} is not a slot count`);
  }
  for (const dim of ['layers', 'heads', 'tokensPerFrame', 'headDim'] as const) {
    if (!Number.isSafeInteger(layout[dim]) || layout[dim] <= 0) throw new RangeError(`KV layout: ${dim} ${layout[dim]} is not a positive integer`);
  }
  return layout;
}

/** Floats of one (layer, head) run of a frame: `tokensPerFrame · headDim`. @internal */
export const kvRowFloats = (layout: KvLayout): number => layout.tokensPerFrame * layout.headDim;

/** Floats of one slot (a frame's K or V for every layer). @internal */
export const kvSlotFloats = (layout: KvLayout): number => layout.layers * layout.heads * kvRowFloats(layout);

/**
 * Floats of a `past_key`/`present_key` tensor over `frames` frames:
 * `[layers, 1, heads, frames · tokensPerFrame, headDim]`.
 *
 * @example
 * ```ts
 * new Float32Array(kvTensorFloats(layout, readable.length)); // a reusable `out` for gatherPast
 * ```
 */
export function kvTensorFloats(layout: KvLayout, frames: number): number {
  return frames * kvSlotFloats(layout);
}
