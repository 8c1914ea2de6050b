import { describe, expect, it } from 'vitest';
import { buildSchedule, samplerStep, SamplerError, stagePlan, stepNeedsNoise, type Schedule } from '../src/core/sampler.js';
import type { StageIndex } from '../src/core/domain.js';

const selfForcing = { shift: 5, timesteps: [1000, 750, 500, 250], warp: true };

describe('buildSchedule', () => {
  it('warps the Self-Forcing timesteps with shift 5 to σ = 1, 15/16, 5/6, 5/8', () => {
    const { sigmas, timesteps } = buildSchedule(selfForcing);
    // By hand: σ = 5r / (1 + 4r) for r = 1, 3/4, 1/2, 1/4 → 5/5, 3.75/4, 2.5/3, 1.25/2.
    expect(sigmas).toEqual([1, 0.9375, 5 / 6, 0.625]);
    expect(timesteps).toEqual([1000, 937.5, 5000 / 6, 625]);
    expect(sigmas[2]).toBeCloseTo(0.833333333333333, 14);
    expect(timesteps[2]).toBeCloseTo(833.333333333333, 11);
  });

  it('leaves timesteps alone without warp', () => {
    expect(buildSchedule({ ...selfForcing, warp: false })).toEqual({ sigmas: [1, 0.75, 0.5, 0.25], timesteps: [1000, 750, 500, 250] });
  });

  it('rejects schedules that do not descend or leave (0, 1]', () => {
    expect(() => buildSchedule({ ...selfForcing, timesteps: [1000, 1000] })).toThrow(SamplerError);
    expect(() => buildSchedule({ ...selfForcing, timesteps: [500, 750] })).toThrow(/timesteps\[1\]: σ 0\.9375 is not below σ 0\.8333\d* of the step before/);
    expect(() => buildSchedule({ ...selfForcing, timesteps: [1200] })).toThrow(/timesteps\[0\]: σ 1\.0\d* is outside \(0, 1\]/);
    expect(() => buildSchedule({ ...selfForcing, timesteps: [1000, 0] })).toThrow(/timesteps\[1\]: σ 0 is outside/);
    expect(() => buildSchedule({ ...selfForcing, timesteps: [] })).toThrow(/no denoising step/);
    expect(() => buildSchedule({ ...selfForcing, shift: 0 })).toThrow(/sampler\.shift: 0/);
  });
});

describe('stagePlan', () => {
  const schedule = buildSchedule(selfForcing);

  it('plans the five stages: four steps, each re-noised to the next σ, then the cache step at t = 0', () => {
    const plans = ([0, 1, 2, 3, 4] as const).map((i) => stagePlan(schedule, i));
    expect(plans).toEqual([
      { stage: 't3', timestep: 1000, sigma: 1, sigmaNext: 0.9375, isCache: false },
      { stage: 't2', timestep: 937.5, sigma: 0.9375, sigmaNext: 5 / 6, isCache: false },
      { stage: 't1', timestep: 5000 / 6, sigma: 5 / 6, sigmaNext: 0.625, isCache: false },
      { stage: 't0', timestep: 625, sigma: 0.625, sigmaNext: 0, isCache: false },
      { stage: 'cache', timestep: 0, sigma: 0, sigmaNext: 0, isCache: true },
    ]);
  });

  it('plans N-step schedules (t{N−1} … t0, then cache) and refuses a stage outside them', () => {
    const two = buildSchedule({ ...selfForcing, timesteps: [1000, 500] });
    expect([0, 1, 2].map((i) => stagePlan(two, i).stage)).toEqual(['t1', 't0', 'cache']);
    expect(stagePlan(two, 1).sigmaNext).toBe(0);
    expect(() => stagePlan(two, 3)).toThrow(/stage index 3 is not one of 0..2/);
    expect(() => stagePlan(schedule, 5 as StageIndex)).toThrow(/stage index 5/);
  });

  it('keeps the manifest\'s own timesteps at its step count and spreads N steps on an even grid, warped', () => {
    expect(buildSchedule(selfForcing, 4)).toEqual(buildSchedule(selfForcing));
    const eight = buildSchedule({ shift: 5, timesteps: [1000, 750, 500, 250], warp: false }, 8);
    expect(eight.sigmas).toEqual([1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]);
    const warped = buildSchedule({ ...selfForcing }, 32);
    expect(warped.sigmas).toHaveLength(32);
    expect(warped.sigmas[0]).toBe(1);
    // σ = 5r/(1 + 4r) at r = 1 − 1/32.
    expect(warped.sigmas[1]).toBeCloseTo((5 * (31 / 32)) / (1 + 4 * (31 / 32)), 12);
    expect(() => buildSchedule(selfForcing, 0)).toThrow(/steps: 0 is not a positive integer/);
  });
});

describe('samplerStep', () => {
  it('computes x0 = x − σ·v, then re-noises with fresh noise (hand-computed)', () => {
    const x = Float32Array.of(1, -2, 0);
    const flow = Float32Array.of(0.5, 4, -8);
    const noise = Float32Array.of(2, -1, 4);
    // σ = 0.5: x0 = [1 − 0.25, −2 − 2, 0 + 4] = [0.75, −4, 4]
    // σn = 0.25: 0.75·x0 + 0.25·ε = [0.5625 + 0.5, −3 − 0.25, 3 + 1] = [1.0625, −3.25, 4]
    expect([...samplerStep(x, flow, 0.5, 0.25, noise, new Float32Array(3))]).toEqual([1.0625, -3.25, 4]);
    // The last step returns x0 and needs no noise.
    expect([...samplerStep(x, flow, 0.5, 0, null, new Float32Array(3))]).toEqual([0.75, -4, 4]);
  });

  it('euler follows the flow ODE without noise, and ends on the same x0 as renoise', () => {
    const x = Float32Array.of(1, -2, 0);
    const flow = Float32Array.of(0.5, 4, -8);
    // x + (σn − σ)·v = x − 0.25·v
    expect([...samplerStep(x, flow, 0.5, 0.25, null, new Float32Array(3), 'euler')]).toEqual([0.875, -3, 2]);
    expect([...samplerStep(x, flow, 0.5, 0, null, new Float32Array(3), 'euler')]).toEqual([0.75, -4, 4]);
    expect(stepNeedsNoise(0.25, 'euler')).toBe(false);
    expect(stepNeedsNoise(0.25, 've-ddim')).toBe(false);
    // ve-ddim: x0 = [0.75, −4, 4], ε̂ = (x − 0.5·x0)/0.5 = [1.25, 0, −4], x0 + 0.25·ε̂
    expect([...samplerStep(x, flow, 0.5, 0.25, null, new Float32Array(3), 've-ddim')]).toEqual([1.0625, -4, 3]);
    expect([...samplerStep(x, flow, 0.5, 0, null, new Float32Array(3), 've-ddim')]).toEqual([0.75, -4, 4]);
    expect(stepNeedsNoise(0.25, 'renoise')).toBe(true);
    expect(stepNeedsNoise(0, 'renoise')).toBe(false);
    // An exact flow moves x along the straight path: x at σ=0.5 of (x0, ε) lands on σ=0.25's point.
    const x0 = 3, eps = -1;
    const at = (s: number) => (1 - s) * x0 + s * eps;
    expect(samplerStep(Float32Array.of(at(0.5)), Float32Array.of(eps - x0), 0.5, 0.25, null, new Float32Array(1), 'euler')[0]).toBeCloseTo(at(0.25), 6);
  });

  it('works in place and ignores noise it does not need', () => {
    const x = Float32Array.of(2, 3);
    const out = samplerStep(x, Float32Array.of(1, 1), 1, 0, Float32Array.of(9, 9), x);
    expect(out).toBe(x);
    expect([...x]).toEqual([1, 2]);
  });

  it('is deterministic: the same inputs give the same bits', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const flow = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i));
    const noise = Float32Array.from({ length: 64 }, (_, i) => Math.tan(i / 64));
    const a = samplerStep(x, flow, 5 / 6, 0.625, noise, new Float32Array(64));
    const b = samplerStep(x, flow, 5 / 6, 0.625, noise, new Float32Array(64));
    expect([...new Uint32Array(a.buffer)]).toEqual([...new Uint32Array(b.buffer)]);
    expect(a[1]).toBeCloseTo(0.375 * (Math.sin(1) - (5 / 6) * Math.cos(1)) + 0.625 * Math.tan(1 / 64), 6);
  });

  /** Runs the four steps; the oracle knows x0 and returns the exact flow for the current x. */
  function sample(schedule: Schedule, x0: Float32Array, oracle: (x: Float32Array, sigma: number, step: number) => Float32Array, noiseAt: (step: number) => Float32Array) {
    let x = noiseAt(0); // pure noise at σ = 1
    schedule.sigmas.forEach((sigma, i) => {
      const next = schedule.sigmas[i + 1] ?? 0;
      x = samplerStep(x, oracle(x, sigma, i), sigma, next, next > 0 ? noiseAt(i + 1) : null, new Float32Array(x0.length));
    });
    return x;
  }

  const x0 = Float32Array.of(0.25, -0.5, 1, 0.75, -1.25, 0.125);
  const noiseAt = (step: number) => Float32Array.from(x0, (_, j) => ((j + 3 * step) % 5) * 0.25 - 0.5);

  it('reaches x0 bit for bit with the exact flow v = ε − x0 on a dyadic schedule', () => {
    // With σ and all values exact binary fractions, every product and sum is exact in float32.
    const schedule = buildSchedule({ ...selfForcing, warp: false });
    const oracle = (_: Float32Array, __: number, step: number) => Float32Array.from(x0, (v, j) => noiseAt(step)[j]! - v);
    const x = sample(schedule, x0, oracle, noiseAt);
    expect([...x]).toEqual([...x0]);
  });

  it('reaches x0 on the warped schedule with the oracle flow v = (x − x0) / σ', () => {
    const oracle = (x: Float32Array, sigma: number) => x.map((xi, j) => (xi - x0[j]!) / sigma);
    const x = sample(buildSchedule(selfForcing), x0, oracle, noiseAt);
    // 5/6 is not a binary fraction: float32 rounding leaves at most an ulp or two.
    x.forEach((v, j) => expect(Math.abs(v - x0[j]!)).toBeLessThan(1e-6));
  });

  it('rejects arrays of different lengths and missing noise', () => {
    expect(() => samplerStep(new Float32Array(2), new Float32Array(3), 1, 0, null, new Float32Array(2))).toThrow(SamplerError);
    expect(() => samplerStep(new Float32Array(2), new Float32Array(2), 1, 0, null, new Float32Array(1))).toThrow(/x has 2 values, flow 2, out 1/);
    expect(() => samplerStep(new Float32Array(2), new Float32Array(2), 1, 0.5, null, new Float32Array(2))).toThrow(/needs 2 noise values, got 0/);
    expect(() => samplerStep(new Float32Array(2), new Float32Array(2), 1, 0.5, new Float32Array(3), new Float32Array(2))).toThrow(SamplerError);
  });
});
