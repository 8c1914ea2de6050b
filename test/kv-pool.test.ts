import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  capacityFor,
  commit,
  initialKvPool,
  kvPoolMachine,
  occupancy,
  readableSlots,
  release,
  reserve,
  slotsOfBlock,
  type KvPoolContext,
} from '../src/actors/kv-pool.js';

const sinkFrames = 3;
const windowFrames = 9;
const framesPerBlock = 3;
const capacity = capacityFor({ sinkFrames, windowFrames, framesPerBlock, inFlightBlocks: 1 });
const positionsOf = (block: number) => [0, 1, 2].map((f) => block * framesPerBlock + f);

function cacheBlock(ctx: KvPoolContext, block: number): KvPoolContext {
  return commit(reserve(ctx, block, positionsOf(block)), block);
}

describe('KV pool', () => {
  it('sizes itself for sink + window + in-flight blocks', () => {
    expect(capacityFor({ sinkFrames: 3, windowFrames: 9, framesPerBlock: 3, inFlightBlocks: 5 })).toBe(27);
  });

  it('keeps the sink forever and rolls the window', () => {
    let ctx = initialKvPool({ capacity, sinkFrames, windowFrames });
    for (let block = 0; block < 10; block++) {
      ctx = cacheBlock(ctx, block);
      const newest = (block + 1) * framesPerBlock - 1;
      const expected = new Set<number>();
      for (let p = 0; p < sinkFrames && p <= newest; p++) expected.add(p);
      for (let p = Math.max(0, newest - windowFrames + 1); p <= newest; p++) expected.add(p);
      expect(readableSlots(ctx).map((s) => s.position)).toEqual([...expected].sort((a, b) => a - b));
    }
  });

  it('stays within its fixed capacity over 500 blocks, reusing slots with new generations', () => {
    let ctx = initialKvPool({ capacity, sinkFrames, windowFrames });
    let maxOccupancy = 0;
    for (let block = 0; block < 500; block++) {
      ctx = reserve(ctx, block, positionsOf(block));
      expect(ctx.refusal).toBeNull();
      maxOccupancy = Math.max(maxOccupancy, occupancy(ctx));
      ctx = commit(ctx, block);
    }
    expect(ctx.slots).toHaveLength(capacity);
    expect(maxOccupancy).toBeLessThanOrEqual(capacity);
    expect(occupancy(ctx)).toBe(sinkFrames + windowFrames);
    expect(ctx.evictions).toBe(500 * framesPerBlock - sinkFrames - windowFrames);
    expect(Math.max(...ctx.slots.map((s) => s.generation))).toBeGreaterThan(100);
    expect(readableSlots(ctx).at(-1)?.position).toBe(500 * framesPerBlock - 1);
  });

  it('refuses a reservation it cannot satisfy, with a message, and takes nothing', () => {
    const ctx = reserve(initialKvPool({ capacity: 2, sinkFrames, windowFrames }), 4, positionsOf(4));
    expect(ctx.refusal).toBe('block 4: needs 3 KV slots but only 2 of 2 are free');
    expect(occupancy(ctx)).toBe(0);
  });

  it('does not let reserved slots be read, and release frees them', () => {
    let ctx = cacheBlock(initialKvPool({ capacity, sinkFrames, windowFrames }), 0);
    ctx = reserve(ctx, 1, positionsOf(1));
    expect(readableSlots(ctx).map((s) => s.position)).toEqual([0, 1, 2]);
    expect(slotsOfBlock(ctx, 1).map((s) => s.state)).toEqual(['reserved', 'reserved', 'reserved']);
    ctx = release(ctx, 1);
    expect(slotsOfBlock(ctx, 1)).toEqual([]);
    expect(occupancy(ctx)).toBe(3);
  });

  it('runs as an actor with the same rules', () => {
    const pool = createActor(kvPoolMachine, { input: { capacity, sinkFrames, windowFrames } }).start();
    for (let block = 0; block < 6; block++) {
      pool.send({ type: 'kv.reserve', block, positions: positionsOf(block) });
      pool.send({ type: 'kv.commit', block });
    }
    expect(readableSlots(pool.getSnapshot().context).map((s) => s.position)).toEqual([0, 1, 2, ...Array.from({ length: 9 }, (_, i) => 9 + i)]);
  });
});
