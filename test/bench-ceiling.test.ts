import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/api/runtime.js';
import { cascadeConfigs, runCascadeBench, shapeKey } from '../src/bench/cascade-bench.js';
import { ceilingOf, measureCeiling } from '../src/bench/ceiling.js';
import { RANDOM_MODEL } from './support/models.js';

describe('the parallel ceiling', () => {
  let a: Runtime;
  let b: Runtime;
  beforeAll(async () => {
    [a, b] = await Promise.all([createRuntime({ lanes: 1, model: RANDOM_MODEL }), createRuntime({ lanes: 1, model: RANDOM_MODEL })]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('runs one P0 generation per runtime at once and divides their aggregate rate by one alone', async () => {
    const request = { seed: 0, blocks: 3, prompt: 'red ball moving left' };
    const aBefore = a.stats().forwards;
    const bBefore = b.stats().forwards;
    const figures = await measureCeiling([a, b], request, { repeats: 1, warmup: 0 });
    expect(figures.concurrent).toBe(2);
    expect(figures.ceiling).toBeGreaterThan(0);
    expect(Number.isFinite(figures.ceiling)).toBe(true);
    expect(figures.ceiling).toBeCloseTo(figures.togetherBlocksPerSecond / figures.aloneBlocksPerSecond, 10);
    // Alone on the first runtime, then one on each: 2 + 1 generations of 3 blocks, 5 forwards a block (P0).
    expect(a.stats().forwards - aBefore).toBe(2 * 3 * 5);
    expect(b.stats().forwards - bBefore).toBe(3 * 5);
    const [first, second] = figures.samples[0]!.generations;
    expect(first!.blocks).toBe(3);
    expect(second!.blocks).toBe(3);
    // The two generations were started together: the second before the first had finished.
    // (When each made its first frame depends on the OS's scheduling, not on the code: not asserted.)
    expect(second!.startMs).toBeLessThan(first!.endMs);
  });

  it('is part of every cascade run, against the P0 baseline of the same run', async () => {
    const configs = cascadeConfigs(2).filter((c, i) => i === 0 || c.label === 'P4 bidirectional joint 1L');
    const run = await runCascadeBench(new Map([[shapeKey(1, 1), a]]), configs, { seed: 0, blocks: 2, prompt: 'a red ball' }, { repeats: 1, warmup: 0, ceilingRuntimes: [a, b] });
    expect(run.ceiling).not.toBeNull();
    expect(run.ceiling!.samples).toHaveLength(1);
    expect(run.ceiling!.aloneBlocksPerSecond).toBe(run.records[0]!.blocksPerSecond);
    for (const r of run.records) {
      expect(r.ceiling).toBe(run.ceiling!.ceiling);
      expect(r.modelName).toBe(a.manifest.name);
      expect(r.efficiency).toBeGreaterThan(0);
      expect(r.efficiency).toBeLessThanOrEqual(1);
      // The decoder's and the text encoder's calls are model time too.
      expect(r.efficiency).toBeGreaterThan(r.forwardEfficiency);
      expect(r.forwardEfficiency).toBeGreaterThan(0);
      expect(r.laneScaling).toBe(1);
    }
  });

  it('divides medians (pure)', () => {
    const figures = ceilingOf([10, 9, 11], [16, 18, 17]);
    expect(figures.aloneBlocksPerSecond).toBe(10);
    expect(figures.togetherBlocksPerSecond).toBe(17);
    expect(figures.ceiling).toBeCloseTo(1.7);
  });

  it('needs two runtimes', async () => {
    await expect(measureCeiling([a], { seed: 0, blocks: 1, prompt: 'a' }, { repeats: 1, warmup: 0 })).rejects.toThrow(RangeError);
  });
});
