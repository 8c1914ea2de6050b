/**
 * TeaCache calibrations: the rescaling polynomial fitted to a model by `block-cascade
 * calibrate-cache` (docs/caching.md). The bundled models' calibrations ship in the package's
 * `calibrations/` folder, one file per model, named after the model's manifest `name`
 * (`calibrations/block-cascade-sprites.json`); a `featureCache.coefficients` option overrides.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './paths.js';

/** A calibration file's content. */
export interface CacheCalibration {
  /** The model's manifest name. */
  readonly model: string;
  /** Denoising steps of the calibration runs. */
  readonly steps: number;
  /** The polynomial mapping layer 0's input change to the output change, highest degree first. */
  readonly coefficients: readonly number[];
  /** The fitted input changes' range: the policy clamps to it (the polynomial extrapolates badly). */
  readonly inputRange?: readonly [number, number];
  /** How many (input change, output change) pairs were fitted, and the runs' seeds. */
  readonly points?: number;
  readonly seeds?: readonly number[];
}

/** Where the package keeps a model's calibration. */
export function calibrationPath(modelName: string): string {
  return join(packageRoot(), 'calibrations', `${modelName}.json`);
}

/**
 * The calibration of model `modelName`, or the calibration file at `file`.
 *
 * @throws {Error} naming the file when it is missing or malformed.
 *
 * @example
 * ```ts
 * loadCalibration('block-cascade-sprites').coefficients; // [a4, a3, a2, a1, a0]
 * ```
 */
export function loadCalibration(modelName: string, file = calibrationPath(modelName)): CacheCalibration {
  if (!existsSync(file)) {
    throw new Error(`featureCache.policy "teacache" needs the model's calibration, ${file}, which does not exist: run \`block-cascade calibrate-cache --model DIR --out ${file}\`, or give featureCache.coefficients`);
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheCalibration>;
  if (!Array.isArray(parsed.coefficients) || parsed.coefficients.length === 0 || !parsed.coefficients.every((c) => typeof c === 'number' && Number.isFinite(c))) {
    throw new Error(`${file}: "coefficients" must be a non-empty array of finite numbers`);
  }
  return parsed as CacheCalibration;
}
