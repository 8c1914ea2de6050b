import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  commit,
  initialKvPool,
  kvPoolMachine,
  occupancy,
  readableSlots,
  release,
  reservationProblem,
  reserve,
  slotsOfBlock,
  type KvPoolContext,
  type KvRefusedEvent,
} from '../src/actors/kv-pool.js';
import { capacityFor } from '../src/core/schedule.js';

const sinkFrames = 3;
const windowFrames = 9;
const framesPerBlock = 3;
const capacity = capacityFor({ sinkFrames, windowFrames, framesPerBlock, inFlightBlocks: 1 });
const positionsOf = (block: number) => Array.from({ length: framesPerBlock }, (_, f) => block * framesPerBlock + f);
const positions = (ctx: KvPoolContext) => readableSlots(ctx).map((s) => s.position);

/** Sink ∪ the last W frames, once frames 0..newest are cached. */
function expectedReadable(newest: number, sink = sinkFrames, window = windowFrames): number[] {
  const expected = new Set<number>();
  for (let p = 0; p < sink && p <= newest; p++) expected.add(p);
  for (let p = Math.max(0, newest - window + 1); p <= newest; p++) expected.add(p);
  return [...expected].sort((a, b) => a - b);
}

function cacheBlock(ctx: KvPoolContext, block: number): KvPoolContext {
  const reserved = reserve(ctx, block, positionsOf(block));
  expect(reserved.refusal).toBeNull();
  return commit(reserved, block);
}

describe('KV pool reducers', () => {
  it('sizes itself for sink + window + in-flight blocks', () => {
    expect(capacityFor({ sinkFrames: 3, windowFrames: 9, framesPerBlock: 3, inFlightBlocks: 5 })).toBe(27);
    expect(capacity).toBe(15);
  });

  it('starts with every slot free at generation 0', () => {
    const ctx = initialKvPool({ capacity, sinkFrames, windowFrames });
    expect(ctx.slots).toHaveLength(capacity);
    expect(ctx.slots.every((s) => s.state === 'free' && s.generation === 0 && s.position === null && s.block === null)).toBe(true);
    expect(() => initialKvPool({ capacity: -1, sinkFrames, windowFrames })).toThrow(/capacity -1 is not a count/);
  });

  it('reserves the lowest free slots, in position order', () => {
    const ctx = reserve(initialKvPool({ capacity, sinkFrames, windowFrames }), 0, [0, 1, 2]);
    expect(slotsOfBlock(ctx, 0).map((s) => [s.slot, s.position, s.state])).toEqual([
      [0, 0, 'reserved'],
      [1, 1, 'reserved'],
      [2, 2, 'reserved'],
    ]);
  });

  it('keeps the sink forever and rolls the window: readable = sink ∪ last W frames after each block', () => {
    let ctx = initialKvPool({ capacity, sinkFrames, windowFrames });
    for (let block = 0; block < 12; block++) {
      ctx = cacheBlock(ctx, block);
      expect(positions(ctx)).toEqual(expectedReadable((block + 1) * framesPerBlock - 1));
    }
    expect(positions(ctx)).toEqual([0, 1, 2, 27, 28, 29, 30, 31, 32, 33, 34, 35]);
  });

  it('evicts everything but the sink when the window is empty', () => {
    let ctx = initialKvPool({ capacity: 6, sinkFrames: 3, windowFrames: 0 });
    for (let block = 0; block < 3; block++) ctx = cacheBlock(ctx, block);
    expect(positions(ctx)).toEqual([0, 1, 2]);
  });

  it('stays within its fixed capacity over 500 blocks of 3 frames, reusing slots with new generations', () => {
    let ctx = initialKvPool({ capacity, sinkFrames, windowFrames });
    const generationAtReserve = new Map<number, number>();
    let reuses = 0;
    for (let block = 0; block < 500; block++) {
      ctx = reserve(ctx, block, positionsOf(block));
      expect(ctx.refusal).toBeNull();
      expect(occupancy(ctx)).toBeLessThanOrEqual(capacity);
      for (const s of slotsOfBlock(ctx, block)) {
        const before = generationAtReserve.get(s.slot);
        if (before !== undefined) {
          expect(s.generation).toBeGreaterThan(before); // a reused slot is a new generation
          reuses++;
        }
        generationAtReserve.set(s.slot, s.generation);
      }
      ctx = commit(ctx, block);
      expect(ctx.slots).toHaveLength(capacity);
      expect(occupancy(ctx)).toBeLessThanOrEqual(capacity);
      expect(positions(ctx)).toEqual(expectedReadable((block + 1) * framesPerBlock - 1));
    }
    expect(reuses).toBeGreaterThan(1000);
    expect(occupancy(ctx)).toBe(sinkFrames + windowFrames);
    expect(ctx.evictions).toBe(500 * framesPerBlock - sinkFrames - windowFrames);
    // The sink never moved: slots 0..2 still hold frames 0..2 at generation 0.
    expect(ctx.slots.slice(0, 3).map((s) => [s.position, s.generation])).toEqual([[0, 0], [1, 0], [2, 0]]);
  });

  it('refuses a reservation it cannot satisfy, with a message, and takes nothing', () => {
    const ctx = reserve(initialKvPool({ capacity: 2, sinkFrames, windowFrames }), 4, positionsOf(4));
    expect(ctx.refusal).toBe('block 4: needs 3 KV slots but only 2 of 2 are free');
    expect(occupancy(ctx)).toBe(0);
    // The next reservation that fits clears the refusal.
    expect(reserve(ctx, 5, [15, 16]).refusal).toBeNull();
  });

  it('refuses a second reservation of a block, a frame already held, and repeated positions', () => {
    const ctx = cacheBlock(initialKvPool({ capacity, sinkFrames, windowFrames }), 0);
    expect(reservationProblem(ctx, 0, [3, 4, 5])).toBe('block 0: already holds 3 KV slots');
    expect(reservationProblem(ctx, 1, [2, 3, 4])).toBe('block 1: frame 2 is already committed in slot 2 by block 0');
    expect(reservationProblem(ctx, 1, [3, 3, 4])).toMatch(/repeat a frame/);
    expect(reservationProblem(ctx, 1, [3, -1, 4])).toMatch(/are not frame positions/);
    expect(occupancy(reserve(ctx, 1, [2, 3, 4]))).toBe(3);
  });

  it('does not let reserved slots be read, and release frees them with a new generation', () => {
    let ctx = cacheBlock(initialKvPool({ capacity, sinkFrames, windowFrames }), 0);
    ctx = reserve(ctx, 1, positionsOf(1));
    expect(positions(ctx)).toEqual([0, 1, 2]);
    expect(slotsOfBlock(ctx, 1).map((s) => s.state)).toEqual(['reserved', 'reserved', 'reserved']);
    const held = slotsOfBlock(ctx, 1).map((s) => s.slot);
    ctx = release(ctx, 1);
    expect(slotsOfBlock(ctx, 1)).toEqual([]);
    expect(occupancy(ctx)).toBe(3);
    expect(held.map((slot) => ctx.slots[slot]!.generation)).toEqual([1, 1, 1]);
    // Release never touches committed frames.
    expect(positions(release(ctx, 0))).toEqual([0, 1, 2]);
  });
});

describe('KV pool actor', () => {
  it('runs the same rules as the reducers', () => {
    const pool = createActor(kvPoolMachine, { input: { capacity, sinkFrames, windowFrames } }).start();
    for (let block = 0; block < 6; block++) {
      pool.send({ type: 'kv.reserve', block, positions: positionsOf(block) });
      pool.send({ type: 'kv.commit', block });
    }
    expect(positions(pool.getSnapshot().context)).toEqual([0, 1, 2, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect(pool.getSnapshot().context.evictions).toBe(6);
    pool.stop();
  });

  it('emits kv.refused and stays usable when a reservation cannot be met', () => {
    const pool = createActor(kvPoolMachine, { input: { capacity: 4, sinkFrames, windowFrames } }).start();
    const refused: KvRefusedEvent[] = [];
    pool.on('kv.refused', (event) => refused.push(event));
    pool.send({ type: 'kv.reserve', block: 0, positions: [0, 1, 2] });
    pool.send({ type: 'kv.reserve', block: 1, positions: [3, 4, 5] });
    expect(refused).toEqual([{ type: 'kv.refused', block: 1, message: 'block 1: needs 3 KV slots but only 1 of 4 are free' }]);
    expect(pool.getSnapshot().context.refusal).toBe(refused[0]!.message);
    expect(pool.getSnapshot().status).toBe('active');
    pool.send({ type: 'kv.release', block: 0 });
    pool.send({ type: 'kv.reserve', block: 1, positions: [3, 4, 5] });
    expect(pool.getSnapshot().context.refusal).toBeNull();
    expect(slotsOfBlock(pool.getSnapshot().context, 1).map((s) => s.slot)).toEqual([0, 1, 2]);
    expect(refused).toHaveLength(1);
    pool.stop();
  });
});
