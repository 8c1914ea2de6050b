/**
 * A SharedArrayBuffer cut into equal float32 slots: the data plane for latents and prompt
 * contexts. The actor thread hands out slot indices; lane workers read and write the floats.
 */
export interface SlotSlab {
  readonly buffer: SharedArrayBuffer;
  /** Floats per slot. */
  readonly slotLength: number;
  readonly slots: number;
}

/** Allocates a zero-filled slab of `slots` slots of `slotLength` floats. */
export function allocateSlotSlab(slots: number, slotLength: number): SlotSlab {
  return { buffer: new SharedArrayBuffer(slots * slotLength * 4), slotLength, slots };
}

/** A view of one slot (no copy). */
export function slotView(slab: SlotSlab, slot: number): Float32Array {
  if (!Number.isInteger(slot) || slot < 0 || slot >= slab.slots) {
    throw new RangeError(`slot ${slot} is outside the slab's ${slab.slots} slots`);
  }
  return new Float32Array(slab.buffer, slot * slab.slotLength * 4, slab.slotLength);
}
