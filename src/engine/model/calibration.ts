/**
 * TeaCache calibrations: the rescaling polynomial fitted to a model by `block-cascade
 * calibrate-cache` (docs/caching.md). The bundled models' calibrations ship in the package's
 * `calibrations/` folder, named after the model's manifest `name`: `<name>.json` fitted at 32
 * steps, `<name>.<n>-steps.json` at n (`calibrations/block-cascade-sprites.50-steps.json`); a
 * generation uses the one nearest its step count. A `featureCache.coefficients` option overrides.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/** Steps of the calibration in a model's plain `<name>.json` (calibrate-cache's default). */
export const DEFAULT_CALIBRATION_STEPS = 32;

/** Where the package keeps a model's calibration for `steps` denoising steps. */
export function calibrationPath(modelName: string, steps = DEFAULT_CALIBRATION_STEPS): string {
  return join(calibrationsDir(), steps === DEFAULT_CALIBRATION_STEPS ? `${modelName}.json` : `${modelName}.${steps}-steps.json`);
}

const calibrationsDir = () => join(packageRoot(), 'calibrations');

/** A calibration file of the package, checked. @throws {Error} naming the file when it is malformed. */
function readCalibration(file: string): CacheCalibration {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheCalibration>;
  if (!Array.isArray(parsed.coefficients) || parsed.coefficients.length === 0 || !parsed.coefficients.every((c) => typeof c === 'number' && Number.isFinite(c))) {
    throw new Error(`${file}: "coefficients" must be a non-empty array of finite numbers`);
  }
  if (typeof parsed.steps !== 'number' || !Number.isInteger(parsed.steps) || parsed.steps < 1) throw new Error(`${file}: "steps" must be a positive integer`);
  return parsed as CacheCalibration;
}

/**
 * The shipped calibration of model `modelName` fitted at the step count nearest `steps` (ties
 * go to the fewer steps, whose larger per-step changes make the policy reuse less): the
 * polynomial maps one step's input change to its output change, and both shrink as the steps
 * get more, so a fit at 32 steps would have a 50-step run compute every step.
 *
 * @throws {Error} naming the file to create when the model has none.
 *
 * @example
 * ```ts
 * loadCalibration('block-cascade-sprites', 50).steps; // 50
 * loadCalibration('block-cascade-sprites', 40).steps; // 32
 * ```
 */
export function loadCalibration(modelName: string, steps = DEFAULT_CALIBRATION_STEPS): CacheCalibration {
  const dir = calibrationsDir();
  const perSteps = new RegExp(`^${modelName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+-steps\\.json$`);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f === `${modelName}.json` || perSteps.test(f)) : [];
  if (files.length === 0) {
    const file = calibrationPath(modelName, steps);
    throw new Error(`featureCache.policy "teacache" needs the model's calibration, ${file}, which does not exist: run \`block-cascade calibrate-cache --model DIR --steps ${steps}\` (it writes that file), or give featureCache.coefficients`);
  }
  const distance = (c: CacheCalibration) => Math.abs(c.steps - steps);
  return files
    .map((f) => readCalibration(join(dir, f)))
    .reduce((best, c) => (distance(c) < distance(best) || (distance(c) === distance(best) && c.steps < best.steps) ? c : best));
}
