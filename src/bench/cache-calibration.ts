/**
 * TeaCache's calibration (`block-cascade calibrate-cache`, docs/caching.md): uncached
 * generations on one lane, every step computed, recording per block and step (stage ≥ 1) the
 * pair (relative L1 change of layer 0's input, relative L1 change of the whole layer stack's
 * residual), both against the block's previous step; a degree-4 least-squares polynomial maps
 * the first to the second. The policy accumulates that polynomial of layer 0's input change.
 *
 * The runs go through `fbcache` with threshold 0, which never reuses (a reuse needs a change
 * below 0) and makes the workers measure both changes (`first-residual` tracking).
 */
import { createRuntime } from '../api/runtime.js';
import { fitPolynomial } from '../core/feature-cache.js';
import type { TraceRecord } from '../core/trace-records.js';
import type { CacheCalibration } from '../engine/model/calibration.js';

export interface CalibrationOptions {
  /** Model package folder. */
  readonly model: string;
  /** Denoising steps per block (default 32). */
  readonly steps?: number;
  /** Seeds, one generation each (default 4). */
  readonly seeds?: number;
  /** Blocks per generation (default 4). */
  readonly blocks?: number;
  readonly onProgress?: (line: string) => void;
}

const PROMPTS = ['red ball moving left', 'blue square moving up', 'green triangle moving right', 'yellow ball moving down'];

/** Runs the calibration generations and fits the polynomial. */
export async function calibrateCache(options: CalibrationOptions): Promise<CacheCalibration & { readonly points: number }> {
  const steps = options.steps ?? 32;
  const seedCount = options.seeds ?? 4;
  const blocks = options.blocks ?? 4;
  const runtime = await createRuntime({ lanes: 1, model: options.model });
  const xs: number[] = [];
  const ys: number[] = [];
  const seeds = Array.from({ length: seedCount }, (_, i) => i);
  try {
    for (const seed of seeds) {
      const prompt = PROMPTS[seed % PROMPTS.length] as string;
      const trace = (record: TraceRecord) => {
        if (record.kind !== 'features') return;
        for (const i of record.indicators) {
          if (i.stage < 1 || i.stage >= steps || i.firstInput == null || i.residual == null) continue;
          if (!Number.isFinite(i.firstInput) || !Number.isFinite(i.residual)) continue;
          xs.push(i.firstInput);
          ys.push(i.residual);
        }
      };
      for await (const _frame of runtime.generate({ seed, blocks, prompt }, { steps, featureCache: { policy: 'fbcache', threshold: 0 }, trace })) {
        // frames are not needed
      }
      options.onProgress?.(`seed ${seed} (${prompt}): ${xs.length} pairs so far`);
    }
  } finally {
    await runtime.close();
  }
  const coefficients = fitPolynomial(xs, ys, 4);
  const inputRange: [number, number] = [Math.min(...xs), Math.max(...xs)];
  return { model: runtime.manifest.name, steps, coefficients, inputRange, points: xs.length, seeds };
}
