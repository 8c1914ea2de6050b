/**
 * The flow-matching sampler of block-causal models: a warped N-step schedule, `x0 = x_t − σ·v`, and
 * fresh noise between steps. Pure functions over Float32Arrays; the noise is passed in so that
 * the caller decides where it comes from (a counter-based generator).
 */
import { stageNames, type Stage, type StageIndex } from './domain.js';
import type { ModelManifest, SamplerUpdate } from './manifest-types.js';

/** Noise levels and model timesteps of the denoising steps, highest noise first. */
export interface Schedule {
  readonly sigmas: readonly number[];
  readonly timesteps: readonly number[];
}

/** What one stage of a block does. */
export interface StagePlan {
  readonly stage: Stage;
  /** Model timestep fed for every frame (0 for the cache step). */
  readonly timestep: number;
  /** Noise level of the input. */
  readonly sigma: number;
  /** Noise level after the step; 0 after the last denoising step and for the cache step. */
  readonly sigmaNext: number;
  readonly isCache: boolean;
}

/** Thrown when the sampler is given inconsistent arrays or a bad schedule. */
export class SamplerError extends RangeError {
  readonly code = 'SAMPLER';
  constructor(message: string) {
    super(message);
    this.name = 'SamplerError';
  }
}

/**
 * The raw timesteps of an N-step schedule: the manifest's own list when N is its length (or
 * not given), else an even grid `1000·(1 − i/N)`, i = 0 … N − 1.
 *
 * @example
 * ```ts
 * rawTimesteps({ timesteps: [1000, 750, 500, 250] }, 8); // [1000, 875, 750, 625, 500, 375, 250, 125]
 * ```
 */
export function rawTimesteps(sampler: Pick<ModelManifest['sampler'], 'timesteps'>, steps?: number): readonly number[] {
  if (steps === undefined || steps === sampler.timesteps.length) return sampler.timesteps;
  if (!Number.isInteger(steps) || steps < 1) throw new SamplerError(`steps: ${steps} is not a positive integer`);
  return Array.from({ length: steps }, (_, i) => 1000 * (1 - i / steps));
}

/**
 * The σ and model timesteps of `steps` denoising steps (default: the manifest's own list).
 * Raw timesteps are warped with the shift when the sampler says so: `σ_raw = t/1000`,
 * `σ = shift·σ_raw / (1 + (shift − 1)·σ_raw)`, `t = 1000σ`. Throws {@link SamplerError} unless
 * the σ descend strictly inside (0, 1].
 *
 * @example
 * ```ts
 * buildSchedule({ shift: 5, timesteps: [1000, 750, 500, 250], warp: true }).sigmas; // [1, 0.9375, 0.8333…, 0.625]
 * buildSchedule({ shift: 5, timesteps: [1000, 750, 500, 250], warp: false }, 32).sigmas.length; // 32
 * ```
 */
export function buildSchedule(sampler: Pick<ModelManifest['sampler'], 'shift' | 'timesteps' | 'warp'>, steps?: number): Schedule {
  if (sampler.warp && !(Number.isFinite(sampler.shift) && sampler.shift > 0)) {
    throw new SamplerError(`sampler.shift: ${sampler.shift} is not a positive number`);
  }
  const raw = rawTimesteps(sampler, steps);
  if (raw.length === 0) throw new SamplerError('sampler.timesteps: no denoising step');
  const sigmas = raw.map((t) => {
    const r = t / 1000;
    return sampler.warp ? (sampler.shift * r) / (1 + (sampler.shift - 1) * r) : r;
  });
  sigmas.forEach((sigma, i) => {
    if (!(sigma > 0 && sigma <= 1)) throw new SamplerError(`sampler.timesteps[${i}]: σ ${sigma} is outside (0, 1]`);
    if (i > 0 && !(sigma < (sigmas[i - 1] as number))) {
      throw new SamplerError(`sampler.timesteps[${i}]: σ ${sigma} is not below σ ${sigmas[i - 1]} of the step before (timesteps must descend)`);
    }
  });
  return { sigmas, timesteps: sigmas.map((sigma) => 1000 * sigma) };
}

/**
 * The plan of stage `index` of a schedule: 0 … N − 1 denoise (`t{N−1}` … `t0`), N caches.
 *
 * @example
 * ```ts
 * stagePlan(schedule, 3); // four steps: { stage: 't0', timestep: 625, sigma: 0.625, sigmaNext: 0, isCache: false }
 * ```
 */
export function stagePlan(schedule: Schedule, index: StageIndex): StagePlan {
  const steps = schedule.sigmas.length;
  const stage = stageNames(steps)[index];
  if (stage === undefined || !Number.isInteger(index)) throw new SamplerError(`stage index ${index} is not one of 0..${steps}`);
  if (stage === 'cache') return { stage, timestep: 0, sigma: 0, sigmaNext: 0, isCache: true };
  return {
    stage,
    timestep: schedule.timesteps[index] as number,
    sigma: schedule.sigmas[index] as number,
    sigmaNext: schedule.sigmas[index + 1] ?? 0,
    isCache: false,
  };
}

/** The update of a manifest whose `sampler.update` is absent. */
export const DEFAULT_SAMPLER_UPDATE: SamplerUpdate = 'renoise';

/** Whether a step from σ to `sigmaNext` draws fresh noise under `update`. */
export function stepNeedsNoise(sigmaNext: number, update: SamplerUpdate = DEFAULT_SAMPLER_UPDATE): boolean {
  return update === 'renoise' && sigmaNext > 0;
}

/**
 * One sampler step. `renoise`: `x0 = x − σ·flow`, then `(1 − σn)·x0 + σn·ε` with fresh noise,
 * or `x0` after the last step. `euler`: `x + (σn − σ)·flow`. `ve-ddim`: `x0 + σn·ε̂` with the
 * implied noise `ε̂ = (x − (1 − σ)·x0)/σ`. The last two draw no noise and end on the same `x0`
 * after the last step. `out` may be `x` itself.
 *
 * @example
 * ```ts
 * samplerStep(x, flow, 1, 0.9375, noise, x); // in place
 * samplerStep(x, flow, 1, 0.75, null, x, 'euler');
 * ```
 */
export function samplerStep(
  x: Float32Array,
  flow: Float32Array,
  sigma: number,
  sigmaNext: number,
  noise: Float32Array | null,
  out: Float32Array,
  update: SamplerUpdate = DEFAULT_SAMPLER_UPDATE,
): Float32Array {
  const n = x.length;
  if (flow.length !== n || out.length !== n) {
    throw new SamplerError(`samplerStep: x has ${n} values, flow ${flow.length}, out ${out.length}`);
  }
  if (update === 'euler') {
    const dt = sigmaNext - sigma;
    for (let i = 0; i < n; i++) out[i] = (x[i] as number) + dt * (flow[i] as number);
  } else if (update === 've-ddim') {
    // x̂0 = x − σ·v and ε̂ = (x − (1 − σ)·x̂0)/σ, then x̂0 + σn·ε̂ (no (1 − σn) on x̂0).
    for (let i = 0; i < n; i++) {
      const xi = x[i] as number;
      const x0 = xi - sigma * (flow[i] as number);
      out[i] = x0 + (sigmaNext * (xi - (1 - sigma) * x0)) / sigma;
    }
  } else if (sigmaNext > 0) {
    if (!noise || noise.length !== n) throw new SamplerError(`samplerStep: σ_next ${sigmaNext} needs ${n} noise values, got ${noise?.length ?? 0}`);
    const keep = 1 - sigmaNext;
    for (let i = 0; i < n; i++) out[i] = keep * ((x[i] as number) - sigma * (flow[i] as number)) + sigmaNext * (noise[i] as number);
  } else {
    for (let i = 0; i < n; i++) out[i] = (x[i] as number) - sigma * (flow[i] as number);
  }
  return out;
}
