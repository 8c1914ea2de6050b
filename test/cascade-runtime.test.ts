import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type GenerateRequest, type Runtime } from '../src/index.js';
import type { CascadeOptions } from '../src/core/cascade-options.js';
import { frameDrift } from '../src/quality/drift.js';
import { RANDOM_MODEL } from './support/models.js';
import { oneAndTwoLanes } from './support/lane-runtimes.js';

const request = { seed: 5, blocks: 7, prompt: 'green triangle moving right' };

async function frames(runtime: Runtime, cascade: Partial<CascadeOptions>): Promise<Buffer> {
  const out: Frame[] = [];
  for await (const frame of runtime.generate(request, { cascade })) out.push(frame);
  return Buffer.concat(out.map((f) => f.rgb));
}

describe('cascades on real lanes', () => {
  const runtimes = oneAndTwoLanes();

  for (const parallelism of [1, 2, 3, 4] as const) {
    it(`P${parallelism} bidirectional joint: identical frames on 1 and 2 lanes, twice`, async () => {
      const cascade = { parallelism, attention: 'bidirectional' as const, exec: 'joint' as const };
      const a = await frames(runtimes.one, cascade);
      const b = await frames(runtimes.two, cascade);
      const c = await frames(runtimes.two, cascade);
      expect(b.equals(a)).toBe(true);
      expect(c.equals(a)).toBe(true);
    });
  }

  it('runs five forwards per block whatever the level, and the cascade really differs from P0', async () => {
    const sequential = await frames(runtimes.one, { parallelism: 0 });
    for (const parallelism of [1, 4] as const) {
      const before = runtimes.one.stats().forwards;
      const cascaded = await frames(runtimes.one, { parallelism, attention: 'bidirectional' });
      expect(runtimes.one.stats().forwards - before).toBe(request.blocks * 5);
      // Bidirectional windows let the caching block see noisier ones: close to P0, not equal.
      expect(cascaded.equals(sequential)).toBe(false);
      const drift = frameDrift([{ rgb: cascaded } as unknown as Frame], [{ rgb: sequential } as unknown as Frame]);
      expect(drift.psnrDb).toBeGreaterThan(25);
    }
  });
});

describe('lanes execution: K/V exchanged per layer between two lanes', () => {
  let two: Runtime;
  beforeAll(async () => {
    two = await createRuntime({ lanes: 2, model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await two?.close();
  });

  const collect = async (cascade: Partial<CascadeOptions>, switches: GenerateRequest['switches'] = []) => {
    const out: Frame[] = [];
    for await (const frame of two.generate({ ...request, switches }, { cascade })) out.push(frame);
    return out;
  };

  for (const attention of ['causal', 'bidirectional'] as const) {
    for (const parallelism of [1, 4] as const) {
      it(`P${parallelism} ${attention}: lanes equals joint (float rounding only) and repeats byte for byte`, async () => {
        const joint = await collect({ parallelism, attention, exec: 'joint' });
        const lanes = await collect({ parallelism, attention, exec: 'lanes' });
        const again = await collect({ parallelism, attention, exec: 'lanes' });
        const drift = frameDrift(lanes, joint);
        // Keys reach the softmax in another order: the latents differ by ~1e-6, which can
        // move a decoded value across a rounding boundary, never further.
        expect(drift.maxAbs).toBeLessThanOrEqual(1);
        expect(drift.psnrDb).toBeGreaterThan(80);
        expect(Buffer.concat(again.map((f) => f.rgb)).equals(Buffer.concat(lanes.map((f) => f.rgb)))).toBe(true);
      });
    }
  }

  it('P1 causal is the sequential pipeline up to float rounding (the caching block sees what it saw at P0)', async () => {
    const p0 = await collect({ parallelism: 0 });
    const p1 = await collect({ parallelism: 1, attention: 'causal', exec: 'joint' });
    const drift = frameDrift(p1, p0);
    expect(drift.maxAbs).toBeLessThanOrEqual(1);
    expect(drift.psnrDb).toBeGreaterThan(70);
  });

  const switches = [{ atBlock: 5, prompt: 'purple square moving down' }];
  const blocksOf = (frames: Frame[], from: number, to: number) => frames.filter((f) => f.block >= from && f.block < to);
  const blockBytes = (frames: Frame[], from: number, to: number) => Buffer.concat(blocksOf(frames, from, to).map((f) => f.rgb));

  it('a prompt switch inside a P4 cascade, in-flight: lanes equals joint, and the blocks in flight change too', async () => {
    const cascade = { parallelism: 4, attention: 'causal', exec: 'joint', switchMode: 'in-flight' } as const;
    const plain = await collect(cascade);
    const joint = await collect(cascade, switches);
    const lanes = await collect({ ...cascade, exec: 'lanes' }, switches);
    expect(frameDrift(lanes, joint).maxAbs).toBeLessThanOrEqual(1);
    // At P4 block j denoises in ticks j..j+3 and block 5 joins at tick 5: blocks 0 and 1 are
    // final before the switch; blocks 2–4 take their remaining steps under the new prompt.
    expect(blockBytes(joint, 0, 2).equals(blockBytes(plain, 0, 2))).toBe(true);
    expect(blockBytes(joint, 2, 3).equals(blockBytes(plain, 2, 3))).toBe(false);
    expect(blockBytes(joint, 5, request.blocks).equals(blockBytes(plain, 5, request.blocks))).toBe(false);
  });

  for (const exec of ['joint', 'lanes'] as const) {
    it(`a prompt switch inside a P4 causal cascade, at-block (${exec}): blocks before the switch are those of the video without it`, async () => {
      const cascade = { parallelism: 4, attention: 'causal', exec } as const;
      const plain = await collect(cascade);
      const before = two.stats();
      const switched = await collect(cascade, switches);
      const after = two.stats();
      // A causal block never sees a newer one, so blocks 2–4, run under their own prompt, are unchanged.
      expect(frameDrift(blocksOf(switched, 0, 5), blocksOf(plain, 0, 5)).maxAbs).toBeLessThanOrEqual(1);
      expect(blockBytes(switched, 5, request.blocks).equals(blockBytes(plain, 5, request.blocks))).toBe(false);
      // The ticks that hold blocks of both prompts (5–8, ending with block 4's cache step) ran twice.
      expect(after.forwards - before.forwards).toBeGreaterThan(request.blocks * 5);
    });
  }

  it('a prompt switch inside a P4 cascade, at-block, stale: repeats byte for byte; blocks final before the switch are unchanged', async () => {
    const cascade = { parallelism: 4, attention: 'causal', exec: 'stale' } as const;
    const plain = await collect(cascade);
    const [a, b] = [await collect(cascade, switches), await collect(cascade, switches)];
    expect(blockBytes(a, 0, request.blocks).equals(blockBytes(b, 0, request.blocks))).toBe(true);
    expect(blockBytes(a, 0, 2).equals(blockBytes(plain, 0, 2))).toBe(true);
    expect(blockBytes(a, 5, request.blocks).equals(blockBytes(plain, 5, request.blocks))).toBe(false);
  });

  it('a prompt switch inside a P4 bidirectional cascade, at-block: lanes equals joint, and the video differs from in-flight', async () => {
    const cascade = { parallelism: 4, attention: 'bidirectional', exec: 'joint' } as const;
    const joint = await collect(cascade, switches);
    const lanes = await collect({ ...cascade, exec: 'lanes' }, switches);
    const inFlight = await collect({ ...cascade, switchMode: 'in-flight' }, switches);
    expect(frameDrift(lanes, joint).maxAbs).toBeLessThanOrEqual(1);
    expect(blockBytes(joint, 0, 2).equals(blockBytes(inFlight, 0, 2))).toBe(true);
    expect(blockBytes(joint, 2, 5).equals(blockBytes(inFlight, 2, 5))).toBe(false);
  });
});
