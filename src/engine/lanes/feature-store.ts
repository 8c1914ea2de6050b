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
 * Each slot has two halves, one in `buffer` and one in `steps`; `parity[slot]` says which holds
 * the committed state (0: `buffer`). A tick reads the committed half and writes the other; once
 * the whole tick has succeeded the runtime flips the parity of every computing member's slot
 * ({@link commitFeatureSteps}) instead of copying the slot, so that a lane dying mid-tick still
 * leaves the committed state as the tick found it (`docs/reliability.md`). The parity lives in
 * shared memory, beside the halves it names, rather than in each task: the workers' views, the
 * commit and the snapshots then read one truth, and one writer flips a slot at a time: the actor
 * thread between ticks (every lane has returned), or the lane running that block's steps ahead
 * (`AheadTask`: one block, one lane, no other reader until its steps are reported), so no worker
 * sees it move under it.
 *
 * After a flip, the regions a tick did not write hold what that half held before. That is sound
 * because nothing reads them: a computing member always writes the residual; it writes layer
 * inputs only while it measures (`TickMemberTask.measure`: bwcache stops once the block's
 * schedule is fixed, and never reads them again for that block), and K/V only when the store
 * keeps them (`keepKeyValues`: a reusing member publishes them only while other members
 * attend to it). A reusing member's layer-0 input (teacache) is copied into the committed half
 * without a flip: the rest of that slot is still the last computed step's.
 */
import type { ModelManifest } from '../../core/manifest-types.js';
import type { FeatureStore, ShareResult } from '../../protocol/lane-messages.js';
import { featureOutcome, type FeatureUse } from '../../core/tick.js';

type Sizes = Pick<ModelManifest, 'framesPerBlock' | 'tokensPerFrame' | 'width' | 'layers' | 'heads' | 'headDim'>;

/** The shared slab (allocated by the memory plan, `allocateFeatureCache`); its shape is the share task's. */
export type { FeatureStore };

/**
 * The half of slot `slot` that holds its committed state (0: `buffer`, 1: `steps`).
 *
 * @example
 * ```ts
 * const half = committedHalf(store, 3); // 0 until slot 3's first committed compute
 * ```
 */
export function committedHalf(store: Pick<FeatureStore, 'parity'>, slot: number): 0 | 1 {
  return Atomics.load(new Int32Array(store.parity), slot) === 0 ? 0 : 1;
}

/**
 * The committed floats of slot `slot` (a view, no copy), for snapshots.
 *
 * @example
 * ```ts
 * features.set(committedRows(store, 3), 0);
 * ```
 */
export function committedRows(store: FeatureStore, slot: number): Float32Array {
  return new Float32Array(halfOf(store, slot, 'committed'), slot * store.slotLength * 4, store.slotLength);
}

/** `slot`, when the store has it; a RangeError naming it otherwise. */
function checkedSlot(store: Pick<FeatureStore, 'slots'>, slot: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot >= store.slots) throw new RangeError(`feature slot ${slot} is outside the store's ${store.slots} slots`);
  return slot;
}

/** The buffer holding slot `slot`'s committed half, or the half a tick writes (`steps`). */
function halfOf(store: FeatureStore, slot: number, side: 'committed' | 'steps'): SharedArrayBuffer {
  return (side === 'committed') === (committedHalf(store, slot) === 0) ? store.buffer : store.steps;
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
  const buffer = halfOf(store, checkedSlot(store, slot), side);
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
 * Float ranges of a slot that no later tick reads: the K/V when the store keeps none, the layer
 * inputs when the block no longer measures. What they hold depends on the half's history, so
 * snapshots write zeros there.
 *
 * @example
 * ```ts
 * unreadRanges({ ...store, keepKeyValues: false }, manifest, true); // [[keysAt, slotLength]]
 * ```
 */
export function unreadRanges(store: FeatureStore, m: Sizes, measuring: boolean): [number, number][] {
  const hidden = m.framesPerBlock * m.tokensPerFrame * m.width;
  const ranges: [number, number][] = [];
  if (!measuring) ranges.push([0, m.layers * hidden]);
  if (store.keepKeyValues === false) ranges.push([(m.layers + 1) * hidden, store.slotLength]);
  return ranges;
}

/**
 * What each `decide` member of a tick chose on its lane, by block, from the lanes' results
 * (`MemberFeatureSums.decided`; every lane holding one reports the same choice).
 *
 * @example
 * ```ts
 * const timing = { ...sums, decided: decidedIn(results) };
 * ```
 */
export function decidedIn(results: readonly Pick<ShareResult, 'featureSums'>[]): Map<number, 'compute' | 'reuse'> {
  return new Map(results.flatMap((r) => (r.featureSums ?? []).flatMap((f) => (f.decided ? [[f.block, f.decided] as const] : []))));
}

/**
 * What a member did in a share: its planned use, or for a `decide` member what its lane chose
 * (a member the result says nothing of computed).
 *
 * @example
 * ```ts
 * commitFeatureSteps(store, manifest, [{ latentSlot: 3, features: usedIn(member, result) }]);
 * ```
 */
export function usedIn(member: { readonly block: number; readonly features?: FeatureUse }, result: Pick<ShareResult, 'featureSums'>): 'compute' | 'reuse' {
  return featureOutcome({ block: member.block, features: member.features ?? 'compute' }, { decided: decidedIn([result]) });
}

/**
 * Commits what a successful tick wrote for `members`: a computing member's slot by flipping its
 * parity (the half the tick wrote becomes the committed one); a reusing one's layer-0 input,
 * copied, when the store tracks it (teacache keeps the input of every step).
 *
 * @example
 * ```ts
 * commitFeatureSteps(store, manifest, [{ latentSlot: 3, features: 'compute' }]);
 * ```
 */
export function commitFeatureSteps(store: FeatureStore, m: Sizes, members: readonly { readonly latentSlot: number; readonly features: 'compute' | 'reuse' }[]): void {
  const parity = new Int32Array(store.parity);
  for (const member of members) {
    if (member.features === 'compute') {
      Atomics.xor(parity, checkedSlot(store, member.latentSlot), 1);
    } else if (store.track === 'first-input') {
      featureSlot(store, m, member.latentSlot).input(0).set(featureSlot(store, m, member.latentSlot, 'steps').input(0));
    }
  }
}
