/**
 * `block-cascade calibrate-cache --model DIR --out FILE [--steps N --seeds K]`: fits teacache's
 * rescaling polynomial to a model (`src/bench/cache-calibration.ts`, docs/caching.md) and writes
 * `{ model, steps, coefficients, points, seeds }`. The bundled models' calibrations live in
 * `calibrations/` (`<model name>.json` at 32 steps, `<model name>.<n>-steps.json` at n), where
 * teacache looks by default for the one fitted nearest its step count.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { calibrateCache } from '../bench/cache-calibration.js';
import { calibrationPath } from '../engine/model/calibration.js';
import { parsePositiveInt } from './options.js';

export function registerCalibrateCacheCommand(program: Command): void {
  program
    .command('calibrate-cache')
    .description("fit teacache's rescaling polynomial to a model: uncached generations, layer 0's input change against the layer stack's residual change per step, degree-4 least squares (docs/caching.md)")
    .requiredOption('--model <dir>', 'model package folder')
    .option('--out <file>', 'where to write the calibration (default: calibrations/<model name>.json in the package, <model name>.<n>-steps.json for n steps other than 32)')
    .option('--steps <n>', 'denoising steps per block (default 32)', parsePositiveInt)
    .option('--seeds <k>', 'generations, one seed each (default 4)', parsePositiveInt)
    .option('--blocks <n>', 'blocks per generation (default 4)', parsePositiveInt)
    .action(async (options: { model: string; out?: string; steps?: number; seeds?: number; blocks?: number }) => {
      const calibration = await calibrateCache({
        model: options.model,
        ...(options.steps !== undefined ? { steps: options.steps } : {}),
        ...(options.seeds !== undefined ? { seeds: options.seeds } : {}),
        ...(options.blocks !== undefined ? { blocks: options.blocks } : {}),
        onProgress: (line) => process.stderr.write(`  ${line}\n`),
      });
      const out = options.out ?? calibrationPath(calibration.model, calibration.steps);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, `${JSON.stringify(calibration, null, 2)}\n`);
      process.stdout.write(`${out}: ${calibration.model}, ${calibration.steps} steps, ${calibration.points} points, coefficients ${calibration.coefficients.map((c) => c.toPrecision(4)).join(', ')}\n`);
    });
}
