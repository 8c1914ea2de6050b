/**
 * Capturing a snapshot: the floats a generation's next ticks read, copied out of its memory set
 * (never referenced: the slabs change as soon as the next tick runs), with the small state the
 * caller hands in, encoded into one tensor frame. Called between two ticks of the generation,
 * when no task of it writes the slabs (decodes only read latents).
 */
import { kvSlotFloats } from '../kv/kv-layout.js';
import { committedRows, type FeatureStore } from '../lanes/feature-store.js';
import type { SharedMemory } from '../memory/memory-plan.js';
import { slotView } from '../memory/slot-slab.js';
import { allocateSnapshot, type SnapshotBlock, type SnapshotFrame, type SnapshotReplay, type SnapshotState } from './snapshot-format.js';

/**
 * What the generation knows between two ticks, as handles into its memory set: the snapshot's
 * small fields as they are, and slot numbers where the snapshot holds tensors.
 */
export interface CaptureInput extends Omit<SnapshotState, 'blocks' | 'frames' | 'featureBlocks' | 'replay' | 'latents' | 'keys' | 'values' | 'cleanLatents' | 'features' | 'replayLatents'> {
  /** Blocks to restore, each with the latent slot its latents are in now. */
  readonly blocks: readonly (SnapshotBlock & { readonly latentSlot: number })[];
  /**
   * Committed frames, each with the KV slot its K/V (and clean latent) are in now; the rows of
   * those held by this snapshot (`heldBy` = `seq`) are copied, the others referred to.
   */
  readonly frames: readonly (SnapshotFrame & { readonly slot: number })[];
  /**
   * Blocks whose feature-cache slot (their latent slot) is kept; empty without feature caching.
   * `unread`: float ranges of the slot that no later tick reads (K/V not kept, inputs of a block
   * that measures no more): written as zeros, so that the snapshot does not depend on what a
   * half held before (`engine/lanes/feature-store.ts`).
   */
  readonly featureBlocks: readonly { readonly block: number; readonly latentSlot: number; readonly unread?: readonly (readonly [number, number])[] }[];
  /** Blocks whose cache steps a resume runs again, with their final latents (copied when their cache step ended: their slots are gone). */
  readonly replay: readonly (SnapshotReplay & { readonly latents: Float32Array })[];
}

/** Rows `slots` of a slot-major float32 buffer, copied in order into `into`. */
function copyRows(source: Float32Array, rowFloats: number, slots: readonly number[], into: Float32Array): void {
  slots.forEach((slot, i) => into.set(source.subarray(slot * rowFloats, (slot + 1) * rowFloats), i * rowFloats));
}

/**
 * Copies what `input` names out of `memory` (and the feature store) into a new snapshot: every
 * row once, straight into the snapshot's bytes.
 *
 * @example
 * ```ts
 * const bytes = captureSnapshot(host.memory, null, { model: 'random', fingerprint, block: 4, nextBlock: 6, … });
 * ```
 */
export function captureSnapshot(memory: SharedMemory, featureStore: FeatureStore | null, input: CaptureInput): Uint8Array {
  const kvRow = kvSlotFloats(memory.kv.layout);
  const slots = input.frames.filter((f) => f.heldBy === input.seq).map((f) => f.slot);
  const featureRow = featureStore?.slotLength ?? 0;
  const out = allocateSnapshot(
    {
      model: input.model,
      chain: input.chain,
      seq: input.seq,
      fingerprint: input.fingerprint,
      block: input.block,
      nextBlock: input.nextBlock,
      cachedBlocks: input.cachedBlocks,
      prompts: input.prompts,
      timeline: input.timeline,
      cachedUnder: input.cachedUnder,
      blocks: input.blocks.map(({ block, stage, prompt }) => ({ block, stage, prompt })),
      replay: input.replay.map(({ block, prompt }) => ({ block, prompt })),
      frames: input.frames.map(({ position, block, heldBy }) => ({ position, block, heldBy })),
      evictions: input.evictions,
      policy: input.policy,
      featureBlocks: featureStore === null ? [] : input.featureBlocks.map((b) => b.block),
    },
    { latent: memory.latents.slotLength, kv: kvRow, clean: memory.cleanLatents.slotLength, feature: featureRow },
  );
  input.blocks.forEach((b, i) => out.latents.set(slotView(memory.latents, b.latentSlot), i * memory.latents.slotLength));
  input.replay.forEach((b, i) => out.replayLatents.set(b.latents, i * memory.latents.slotLength));
  copyRows(new Float32Array(memory.kv.keys), kvRow, slots, out.keys);
  copyRows(new Float32Array(memory.kv.values), kvRow, slots, out.values);
  copyRows(new Float32Array(memory.cleanLatents.buffer), memory.cleanLatents.slotLength, slots, out.cleanLatents);
  if (featureStore !== null) {
    input.featureBlocks.forEach((b, i) => {
      const row = out.features.subarray(i * featureRow, (i + 1) * featureRow);
      row.set(committedRows(featureStore, b.latentSlot));
      for (const [from, to] of b.unread ?? []) row.fill(0, from, to);
    });
  }
  return out.bytes;
}
