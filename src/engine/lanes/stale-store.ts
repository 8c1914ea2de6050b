/**
 * The `stale` execution mode's shared memory: each in-flight frame's K/V from the tick before,
 * so that a lane can attend to the frames another lane computes in the same tick without waiting
 * for them (see `stale-tick.ts`).
 *
 * A K/V slab of the KV pool's layout (one slot = one frame's K and V for every layer) with
 * `2 · latentSlots · framesPerBlock` slots: two parities of ticks (a tick writes its own parity
 * and reads the other, so lanes never read what another lane writes in the same tick) × the
 * latent slot of the frame's block × the frame in the block. Beside it, each slot's stamp: the
 * tick and block that wrote it, so that a slot is read only when it holds that block's K/V of
 * the tick just before.
 */
import type { ModelManifest } from '../../core/manifest-types.js';
import { allocateKvSlabs, kvLayoutFor, type KvSlabs } from '../kv/kv-slabs.js';

/** The shared slabs of the stale exchange. */
export interface StaleStore {
  readonly kv: KvSlabs;
  /** Int32 pairs (tick, block) per slot; −1 before anything was written. */
  readonly stamps: SharedArrayBuffer;
  readonly latentSlots: number;
  readonly framesPerBlock: number;
}

/**
 * The slot of `frame` of the block in `latentSlot`, in the parity of `tick`.
 *
 * @example
 * ```ts
 * staleSlot(store, 7, 2, 1); // odd ticks, latent slot 2, the block's second frame
 * ```
 */
export function staleSlot(store: Pick<StaleStore, 'latentSlots' | 'framesPerBlock'>, tick: number, latentSlot: number, frame: number): number {
  return ((tick & 1) * store.latentSlots + latentSlot) * store.framesPerBlock + frame;
}

/**
 * Allocates the store for `latentSlots` latent slots (`memory-plan.ts` sizes it).
 *
 * @example
 * ```ts
 * const store = allocateStaleStore(manifest, 8);
 * ```
 */
export function allocateStaleStore(m: ModelManifest, latentSlots: number): StaleStore {
  const slots = 2 * latentSlots * m.framesPerBlock;
  const stamps = new SharedArrayBuffer(slots * 2 * Int32Array.BYTES_PER_ELEMENT);
  new Int32Array(stamps).fill(-1);
  return { kv: allocateKvSlabs(kvLayoutFor(m, slots)), stamps, latentSlots, framesPerBlock: m.framesPerBlock };
}

/** Whether `slot` holds `block`'s K/V written at `tick`. */
export function stampIs(store: StaleStore, slot: number, tick: number, block: number): boolean {
  const stamps = new Int32Array(store.stamps);
  return Atomics.load(stamps, 2 * slot) === tick && Atomics.load(stamps, 2 * slot + 1) === block;
}

/** Marks `slot` as holding `block`'s K/V of `tick`. */
export function stamp(store: StaleStore, slot: number, tick: number, block: number): void {
  const stamps = new Int32Array(store.stamps);
  Atomics.store(stamps, 2 * slot, tick);
  Atomics.store(stamps, 2 * slot + 1, block);
}
