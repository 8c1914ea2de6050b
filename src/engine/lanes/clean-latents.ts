/**
 * Clean latents beside the K/V: a re-cache recomputes a cached frame's K/V from the frame's
 * final latent, so every KV slot keeps that latent in the slot of the same index of a second
 * slab. Written by the cache step, in the worker that writes the K/V.
 */
import { slotView, type SlotSlab } from '../memory/slot-slab.js';

/**
 * Copies the block in latent slot `latentSlot` (frame-major) frame by frame into the clean-latent
 * slots `cacheSlots` (one per frame, the block's KV slots).
 *
 * @example
 * ```ts
 * storeCleanLatents(data.latents, data.cleanLatents, member.latentSlot, task.cacheSlots);
 * ```
 */
export function storeCleanLatents(latents: SlotSlab, clean: SlotSlab, latentSlot: number, cacheSlots: readonly number[]): void {
  const block = slotView(latents, latentSlot);
  const frame = clean.slotLength;
  if (block.length !== frame * cacheSlots.length) {
    throw new RangeError(`clean latents: a block of ${block.length} floats is not ${cacheSlots.length} frames of ${frame}`);
  }
  cacheSlots.forEach((slot, f) => slotView(clean, slot).set(block.subarray(f * frame, (f + 1) * frame)));
}

/**
 * The clean latents of `slots`, joined frame-major into one `[frames, C, H, W]` buffer.
 *
 * @example
 * ```ts
 * const latents = gatherCleanLatents(data.cleanLatents, task.slots);
 * ```
 */
export function gatherCleanLatents(clean: SlotSlab, slots: readonly number[]): Float32Array {
  const out = new Float32Array(slots.length * clean.slotLength);
  slots.forEach((slot, f) => out.set(slotView(clean, slot), f * clean.slotLength));
  return out;
}
