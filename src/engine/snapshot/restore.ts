/**
 * Restoring a snapshot's floats into a fresh memory set: slots are handed out afresh (block i of
 * the snapshot gets latent slot i, frame j KV slot j; this runtime's sets may be sized
 * differently), and the bytes copied in before any task of the generation runs.
 */
import { CorruptSnapshotError, SnapshotIncompleteError, SnapshotMismatchError } from '../../core/errors.js';
import { kvSlotFloats } from '../kv/kv-layout.js';
import { committedRows, type FeatureStore } from '../lanes/feature-store.js';
import type { SharedMemory } from '../memory/memory-plan.js';
import { slotView } from '../memory/slot-slab.js';
import { requiredSnapshots, type SnapshotState } from './snapshot-format.js';

/** Where the restored bytes went. */
export interface RestoredSlots {
  /** Latent slot of each of the snapshot's blocks, in the snapshot's order. */
  readonly latentSlots: readonly number[];
  /** KV slot of each of the snapshot's frames, in the snapshot's order. */
  readonly kvSlots: readonly number[];
}

/** Row widths the snapshot's tensors must have on this model, or a mismatch naming the model. */
function checkRows(state: SnapshotState, name: string, data: Float32Array, rows: number, width: number): void {
  if (rows > 0 && data.length !== rows * width) throw new SnapshotMismatchError('model', `${state.model} (${name} rows of ${data.length / rows} floats)`, `rows of ${width} floats`);
}

/**
 * Copies a decoded snapshot's latents, K/V, clean latents and feature slots into `memory`. The
 * latents of blocks to replay stay in the snapshot: the generation copies each into a free slot
 * when its cache step is run again.
 *
 * @throws {SnapshotMismatchError} naming `model` when the tensors' sizes are not this model's.
 * @throws {CorruptSnapshotError} when the snapshot holds more than the memory set has slots for.
 * @throws {SnapshotIncompleteError} for an incremental snapshot not merged with those it refers to.
 *
 * @example
 * ```ts
 * const { latentSlots, kvSlots } = restoreSlabs(host.memory, featureStore, decodeSnapshot(bytes));
 * ```
 */
export function restoreSlabs(memory: SharedMemory, featureStore: FeatureStore | null, state: SnapshotState): RestoredSlots {
  const missing = requiredSnapshots(state);
  if (missing.length > 0) throw new SnapshotIncompleteError(state.seq, missing);
  const kvRow = kvSlotFloats(memory.kv.layout);
  checkRows(state, 'latents', state.latents, state.blocks.length, memory.latents.slotLength);
  checkRows(state, 'keys', state.keys, state.frames.length, kvRow);
  checkRows(state, 'values', state.values, state.frames.length, kvRow);
  checkRows(state, 'cleanLatents', state.cleanLatents, state.frames.length, memory.cleanLatents.slotLength);
  checkRows(state, 'replayLatents', state.replayLatents, state.replay.length, memory.latents.slotLength);
  // A replayed block's latents go into a slot of their own when its turn comes.
  if (state.blocks.length + Math.min(1, state.replay.length) > memory.latents.slots) {
    throw new CorruptSnapshotError('snapshot: blocks', `${state.blocks.length} blocks${state.replay.length > 0 ? ' and one to replay' : ''} but ${memory.latents.slots} latent slots`);
  }
  if (state.frames.length > memory.kv.layout.capacitySlots) throw new CorruptSnapshotError('snapshot: frames', `${state.frames.length} frames but ${memory.kv.layout.capacitySlots} KV slots`);
  const latentSlots = state.blocks.map((_, i) => i);
  const kvSlots = state.frames.map((_, j) => j);
  state.blocks.forEach((_, i) => slotView(memory.latents, i).set(state.latents.subarray(i * memory.latents.slotLength, (i + 1) * memory.latents.slotLength)));
  new Float32Array(memory.kv.keys).set(state.keys, 0);
  new Float32Array(memory.kv.values).set(state.values, 0);
  new Float32Array(memory.cleanLatents.buffer).set(state.cleanLatents, 0);
  if (state.featureBlocks.length > 0) {
    if (featureStore === null) throw new SnapshotMismatchError('featureCache', 'a feature-cache policy', 'none');
    checkRows(state, 'features', state.features, state.featureBlocks.length, featureStore.slotLength);
    state.featureBlocks.forEach((block, f) => {
      const i = state.blocks.findIndex((b) => b.block === block);
      if (i < 0) throw new CorruptSnapshotError(`snapshot: featureBlocks[${f}]`, `block ${block} is not among the restored blocks`);
      // Into the slot's committed half, whichever it is (its parity is left as it is).
      committedRows(featureStore, latentSlots[i] as number).set(state.features.subarray(f * featureStore.slotLength, (f + 1) * featureStore.slotLength));
    });
  }
  return { latentSlots, kvSlots };
}
