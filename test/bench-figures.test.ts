import { describe, expect, it } from 'vitest';
import { cascadeConfigs, laneScalingReferences, laneScalings, modelTimeFigures, type CascadeSample } from '../src/bench/cascade-bench.js';
import { sweepConfigs } from '../src/bench/sweep.js';

const sample = (wallMs: number, forwards: number, forwardRunMs: number, forwardTaskMs: number): CascadeSample => ({ wallMs, firstFrameMs: 1, forwards, forwardRunMs, forwardTaskMs });

describe('record figures from hand-made samples', () => {
  it('efficiency: Σ session.run ÷ (Σ wall × lanes in use)', () => {
    const samples = [sample(100, 10, 80, 90), sample(300, 30, 240, 270)];
    expect(modelTimeFigures(samples, 1).efficiency).toBeCloseTo(320 / 400);
    // The same time inside session.run spread over 2 lanes keeps each lane busy half as long.
    expect(modelTimeFigures(samples, 2).efficiency).toBeCloseTo(320 / 800);
  });

  it('efficiency counts the decoder and text encoder calls too; forwardEfficiency the denoiser alone', () => {
    const samples = [{ ...sample(100, 10, 60, 70), otherRunMs: 20 }, sample(300, 30, 240, 270)];
    expect(modelTimeFigures(samples, 1).efficiency).toBeCloseTo(320 / 400);
    expect(modelTimeFigures(samples, 1).forwardEfficiency).toBeCloseTo(300 / 400);
  });

  it('overhead: (forwardTaskMs − forwardRunMs) per forward, and as % of session.run per forward', () => {
    const f = modelTimeFigures([sample(100, 10, 80, 90), sample(300, 30, 240, 270)], 1);
    expect(f.runMsPerForward).toBeCloseTo(8);
    expect(f.overheadMsPerForward).toBeCloseTo(1);
    expect(f.overheadPercent).toBeCloseTo(12.5);
  });

  it('no forwards: zeros, never NaN', () => {
    expect(modelTimeFigures([sample(10, 0, 0, 0)], 1)).toEqual({ runMsPerForward: 0, overheadMsPerForward: 0, overheadPercent: 0, efficiency: 0, forwardEfficiency: 0 });
    expect(modelTimeFigures([], 2).efficiency).toBe(0);
  });

  it('laneScaling divides by the same P level and attention joint on 1 lane × 1 thread; P0 by the baseline', () => {
    const configs = cascadeConfigs(2);
    const refs = laneScalingReferences(configs);
    configs.forEach((c, i) => {
      const ref = configs[refs[i]!]!;
      expect(ref.exec).toBe('joint');
      expect([ref.lanes, ref.threadsPerLane]).toEqual([1, 1]);
      expect(ref.parallelism).toBe(c.parallelism);
      if (c.parallelism > 0) expect(ref.attention).toBe(c.attention);
    });
    expect(refs[0]).toBe(0);
    expect(refs[1]).toBe(0); // P0 best sequential (1 lane × 2 threads) against the baseline
    const referenceOf = (label: string) => configs[refs[configs.findIndex((c) => c.label === label)]!]!.label;
    expect(referenceOf('P4 bidirectional lanes 2L')).toBe('P4 bidirectional joint 1L');
    expect(referenceOf('P4 bidirectional joint 1L×2T')).toBe('P4 bidirectional joint 1L');
    expect(referenceOf('P2 causal joint 2L')).toBe('P2 causal joint 1L');
  });

  it('laneScaling from rates; null when the reference was not measured', () => {
    const configs = sweepConfigs();
    const rates = configs.map((c) => (c.parallelism === 4 && c.lanes === 1 ? 20 : c.parallelism === 0 ? 10 : 30));
    const scalings = laneScalings(configs, rates);
    expect(scalings[0]).toBe(1);
    configs.forEach((c, i) => {
      if (c.parallelism === 4) expect(scalings[i]).toBeCloseTo(c.lanes === 1 ? 1 : 1.5);
      else if (c.parallelism > 0) expect(scalings[i]).toBeNull(); // no P1..P3 joint 1L in the sweep
    });
  });
});
