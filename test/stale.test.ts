/**
 * `stale` execution: each lane runs its frames in one forward and sees the other lane's frames
 * through their K/V of the tick before. Exact when a tick has one block (P0), close to `joint`
 * in a cascade, deterministic, and every forward still counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import { frameDrift } from '../src/quality/drift.js';
import { allocateStaleStore, stamp, stampIs, staleSlot } from '../src/engine/lanes/stale-store.js';
import { readManifest } from '../src/engine/model/loader.js';
import { RANDOM_MODEL } from './support/models.js';

const request = { seed: 6, blocks: 7, prompt: 'white triangle moving left' };

describe('stale execution', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  async function frames(cascade: Record<string, unknown>): Promise<Frame[]> {
    const out: Frame[] = [];
    for await (const frame of runtime.generate(request, { cascade })) out.push(frame);
    return out;
  }
  const bytes = (f: readonly Frame[]) => Buffer.concat(f.map((x) => x.rgb));

  it('is the sequential pipeline at P0, byte for byte', async () => {
    expect(bytes(await frames({ parallelism: 0, exec: 'stale' })).equals(bytes(await frames({ parallelism: 0, exec: 'joint' })))).toBe(true);
  });

  it('in a cascade: close to joint but not equal (neighbours one step behind), the same on every run, five forwards per block', async () => {
    for (const attention of ['causal', 'bidirectional'] as const) {
      const joint = await frames({ parallelism: 4, attention, exec: 'joint' });
      const before = runtime.stats().forwards;
      const stale = await frames({ parallelism: 4, attention, exec: 'stale' });
      expect(runtime.stats().forwards - before).toBe(request.blocks * 5);
      const drift = frameDrift(stale, joint);
      expect(drift.maxAbs, attention).toBeGreaterThan(0);
      expect(drift.psnrDb, attention).toBeGreaterThan(30);
      expect(bytes(await frames({ parallelism: 4, attention, exec: 'stale' })).equals(bytes(stale))).toBe(true);
    }
  });

  it('needs two lanes', async () => {
    const one = await createRuntime({ lanes: 1, model: RANDOM_MODEL, warmUp: false });
    try {
      await expect(async () => {
        for await (const _ of one.generate(request, { cascade: { parallelism: 4, exec: 'stale' } })) {
          // never reached
        }
      }).rejects.toThrow(/option "exec": expected a mode that runs on 1 lane \("stale" needs 2/);
    } finally {
      await one.close();
    }
  });

  it('a store slot is read only when it holds that block at the tick before, in the other parity', async () => {
    const store = allocateStaleStore(await readManifest(RANDOM_MODEL), 8);
    const slot = staleSlot(store, 5, 2, 1);
    expect(staleSlot(store, 6, 2, 1)).not.toBe(slot);
    expect(staleSlot(store, 7, 2, 1)).toBe(slot);
    expect(stampIs(store, slot, 5, 3)).toBe(false);
    stamp(store, slot, 5, 3);
    expect(stampIs(store, slot, 5, 3)).toBe(true);
    // The same slot in a later tick of the same parity, or another block recycled into it.
    expect(stampIs(store, slot, 7, 3)).toBe(false);
    expect(stampIs(store, slot, 5, 4)).toBe(false);
  });
});
