import { describe, expect, it } from 'vitest';
import { buildSchedule, samplerStep, SamplerError, stagePlan } from '../src/runtime/sampler.js';

const selfForcing = { shift: 5, timesteps: [1000, 750, 500, 250], warp: true };

describe('sampler', () => {
  it('warps the Self-Forcing timesteps with shift 5 to σ = 1, 15/16, 5/6, 5/8', () => {
    const { sigmas, timesteps } = buildSchedule(selfForcing);
    // By hand: σ = 5r / (1 + 4r) for r = 1, 3/4, 1/2, 1/4.
    expect(sigmas[0]).toBe(1);
    expect(sigmas[1]).toBeCloseTo(3.75 / 4, 15);
    expect(sigmas[2]).toBeCloseTo(2.5 / 3, 15);
    expect(sigmas[3]).toBeCloseTo(1.25 / 2, 15);
    expect(timesteps.map((t) => Number(t.toFixed(2)))).toEqual([1000, 937.5, 833.33, 625]);
  });

  it('leaves timesteps alone without warp', () => {
    expect(buildSchedule({ ...selfForcing, warp: false }).sigmas).toEqual([1, 0.75, 0.5, 0.25]);
  });

  it('rejects schedules that do not descend or leave (0, 1]', () => {
    expect(() => buildSchedule({ ...selfForcing, timesteps: [1000, 1000] })).toThrow(SamplerError);
    expect(() => buildSchedule({ ...selfForcing, timesteps: [1200] })).toThrow(/timesteps\[0\]/);
  });

  it('plans the five stages: four steps, then the cache step at t = 0', () => {
    const schedule = buildSchedule(selfForcing);
    expect(stagePlan(schedule, 0)).toMatchObject({ stage: 't3', timestep: 1000, sigma: 1, sigmaNext: 0.9375, isCache: false });
    expect(stagePlan(schedule, 3)).toMatchObject({ stage: 't0', timestep: 625, sigma: 0.625, sigmaNext: 0, isCache: false });
    expect(stagePlan(schedule, 4)).toEqual({ stage: 'cache', timestep: 0, sigma: 0, sigmaNext: 0, isCache: true });
  });

  it('refuses a schedule whose step count does not match the block machine', () => {
    expect(() => stagePlan(buildSchedule({ ...selfForcing, timesteps: [1000, 500] }), 0)).toThrow(/4 denoising stages/);
  });

  it('computes x0 = x − σ·v, then re-noises with fresh noise', () => {
    const x = Float32Array.of(1, -2);
    const flow = Float32Array.of(0.5, 4);
    const noise = Float32Array.of(2, -1);
    // σ = 0.5: x0 = [0.75, -4]; σn = 0.25: 0.75·x0 + 0.25·ε = [1.0625, -3.25]
    expect([...samplerStep(x, flow, 0.5, 0.25, noise, new Float32Array(2))]).toEqual([1.0625, -3.25]);
    // last step: x0 only
    expect([...samplerStep(x, flow, 0.5, 0, null, new Float32Array(2))]).toEqual([0.75, -4]);
  });

  it('reaches the clean sample exactly with an oracle flow', () => {
    const x0 = Float32Array.of(0.25, -0.5, 1, 0);
    const { sigmas } = buildSchedule(selfForcing);
    let x: Float32Array = Float32Array.of(0.5, 1.5, -1, 2); // pure noise at σ = 1
    sigmas.forEach((sigma, i) => {
      // The exact flow for a known x0: v = (x − x0) / σ.
      const flow = x.map((xi, j) => (xi - x0[j]!) / sigma);
      const next = sigmas[i + 1] ?? 0;
      x = samplerStep(x, flow, sigma, next, next > 0 ? Float32Array.of(0.1, 0.2, 0.3, 0.4) : null, new Float32Array(4));
    });
    x.forEach((v, j) => expect(v).toBeCloseTo(x0[j]!, 6));
  });

  it('rejects arrays of different lengths and missing noise', () => {
    expect(() => samplerStep(new Float32Array(2), new Float32Array(3), 1, 0, null, new Float32Array(2))).toThrow(SamplerError);
    expect(() => samplerStep(new Float32Array(2), new Float32Array(2), 1, 0.5, null, new Float32Array(2))).toThrow(/noise/);
  });
});
