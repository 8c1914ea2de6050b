/**
 * The feature cache's shared memory: per block in flight (keyed by its latent slot), what block-
 * wise feature caching keeps between the block's steps, so that whichever lane runs the block's
 * next step finds it.
 *
 * One slot, float32, for a block of T = framesPerBlock · tokensPerFrame tokens and width D:
 * - `inputs` `[layer][token][D]`: every layer's input at the block's last computed step (the
 *   indicator compares the next computed step's inputs with these);
 * - `residual` `[token][D]`: the layer stack's output minus its input at that step (a reused
 *   step adds it to its embedded input);
 * - `keys`, `values` `[layer][head][token][headDim]`: each layer's K/V of the block's tokens at
 *   that step (what the tick's other members attend to while the block reuses a step).
 * Tokens are frame-major, so a lane holding frames [a, b) of the block touches token rows
 * [a·tpf, b·tpf) only. Lanes write disjoint rows, and a tick's reads of a block come after its
 * writes of the previous tick, so no lock is needed.
 *
 * A tick reads `buffer` and writes `steps` (the same layout); the runtime copies what the tick
 * wrote into `buffer` once the whole tick has succeeded ({@link commitFeatureSteps}), so that a
 * lane dying mid-tick leaves the store as the tick found it (`docs/reliability.md`).
 */
import type { ModelManifest } from '../../core/manifest-types.js';

type Sizes = Pick<ModelManifest, 'framesPerBlock' | 'tokensPerFrame' | 'width' | 'layers' | 'heads' | 'headDim'>;

/** The shared slab (allocated by the memory plan, `allocateFeatureCache`). */
export interface FeatureStore {
  readonly buffer: SharedArrayBuffer;
  /** Where a tick writes, committed into `buffer` after it. */
  readonly steps: SharedArrayBuffer;
  readonly slots: number;
  /** Floats per slot. */
  readonly slotLength: number;
  /** What the workers measure beyond bwcache's sums (`FeatureTracking`, core/feature-cache.ts). */
  readonly track?: 'first-input' | 'first-residual';
}

/** Floats of one slot: (3·layers + 1) · tokens · width. */
export function featureSlotFloats(m: Sizes): number {
  const tokens = m.framesPerBlock * m.tokensPerFrame;
  return tokens * (2 * m.layers * m.heads * m.headDim + (m.layers + 1) * m.width);
}

/** Views of one slot. */
export interface FeatureSlot {
  /** Layer `l`'s input rows. */
  input(layer: number): Float32Array;
  readonly residual: Float32Array;
  /** Layer `l`'s keys `[head][token][headDim]`. */
  key(layer: number): Float32Array;
  value(layer: number): Float32Array;
}

/**
 * Views of slot `slot` (no copy).
 *
 * @example
 * ```ts
 * const cached = featureSlot(store, manifest, member.latentSlot);
 * cached.residual.subarray(0, tokensPerFrame * width); // frame 0's residual rows
 * ```
 */
export function featureSlot(store: FeatureStore, m: Sizes, slot: number, side: 'committed' | 'steps' = 'committed'): FeatureSlot {
  if (!Number.isInteger(slot) || slot < 0 || slot >= store.slots) throw new RangeError(`feature slot ${slot} is outside the store's ${store.slots} slots`);
  const buffer = side === 'committed' ? store.buffer : store.steps;
  const tokens = m.framesPerBlock * m.tokensPerFrame;
  const hidden = tokens * m.width;
  const kv = m.heads * tokens * m.headDim;
  const base = slot * store.slotLength;
  const view = (offset: number, length: number) => new Float32Array(buffer, (base + offset) * 4, length);
  const keysAt = (m.layers + 1) * hidden;
  const valuesAt = keysAt + m.layers * kv;
  return {
    input: (layer) => view(layer * hidden, hidden),
    residual: view(m.layers * hidden, hidden),
    key: (layer) => view(keysAt + layer * kv, kv),
    value: (layer) => view(valuesAt + layer * kv, kv),
  };
}

/**
 * Commits what a successful tick wrote for `members`: a computing member's whole slot; a reusing
 * one's layer-0 input when the store tracks it (teacache keeps the input of every step).
 *
 * @example
 * ```ts
 * commitFeatureSteps(store, manifest, [{ latentSlot: 3, features: 'compute' }]);
 * ```
 */
export function commitFeatureSteps(store: FeatureStore, m: Sizes, members: readonly { readonly latentSlot: number; readonly features: 'compute' | 'reuse' }[]): void {
  for (const member of members) {
    if (member.features === 'compute') {
      const at = member.latentSlot * store.slotLength;
      new Float32Array(store.buffer, at * 4, store.slotLength).set(new Float32Array(store.steps, at * 4, store.slotLength));
    } else if (store.track === 'first-input') {
      featureSlot(store, m, member.latentSlot).input(0).set(featureSlot(store, m, member.latentSlot, 'steps').input(0));
    }
  }
}
