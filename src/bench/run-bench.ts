/**
 * A benchmark: warm-up generations (not recorded: they pay for lazy initialisation and JIT),
 * then repeats, summarised as medians per figure.
 */
import type { GenerateOptions, GenerateRequest } from '../core/api-types.js';
import { median } from '../core/median.js';
import { measureGeneration, type MeasurableRuntime, type Measurement } from './measure.js';

/** What to run. */
export interface BenchConfig {
  readonly blocks: number;
  readonly repeats: number;
  readonly warmup: number;
  readonly seed: number;
  readonly prompt: string;
}

/** One line of the summary: a figure's median, min and max over the repeats. */
export interface BenchRow {
  readonly metric: string;
  readonly unit: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** The figures reported, in table order, with their units. */
export const BENCH_METRICS = [
  { key: 'blocksPerSecond', metric: 'blocks/s', unit: 'blocks/s' },
  { key: 'framesPerSecond', metric: 'FPS', unit: 'frames/s' },
  { key: 'msPerForward', metric: 'ms per forward', unit: 'ms' },
  { key: 'firstFrameMs', metric: 'time to first frame', unit: 'ms' },
  { key: 'overheadMsPerForward', metric: 'overhead per forward', unit: 'ms' },
  { key: 'overheadPercent', metric: 'overhead / forward', unit: '%' },
] as const satisfies readonly { key: keyof Measurement; metric: string; unit: string }[];

/**
 * Medians (and ranges) of every figure in {@link BENCH_METRICS}.
 *
 * @throws {RangeError} for an empty list.
 *
 * @example
 * ```ts
 * const rows = summarize(runs);
 * console.log(rows[1]); // { metric: 'FPS', unit: 'frames/s', median: 41.2, min: 39.8, max: 42.0 }
 * ```
 */
export function summarize(runs: readonly Measurement[]): BenchRow[] {
  return BENCH_METRICS.map(({ key, metric, unit }) => {
    const values = runs.map((run) => run[key]);
    return { metric, unit, median: median(values), min: Math.min(...values), max: Math.max(...values) };
  });
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`bench option "${name}": expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
}

/**
 * Runs `warmup` unrecorded generations, then `repeats` measured ones, one after another.
 *
 * @param onRun - Called after each measured repeat (for progress output).
 * @throws {RangeError} for a bad count.
 *
 * @example
 * ```ts
 * const runs = await runBench(runtime, { blocks: 8, repeats: 5, warmup: 1, seed: 0, prompt: 'red ball moving left' });
 * console.table(summarize(runs));
 * ```
 */
export async function runBench(
  runtime: MeasurableRuntime,
  config: BenchConfig,
  options: GenerateOptions & { readonly onRun?: (run: Measurement, repeat: number) => void } = {},
): Promise<Measurement[]> {
  checkCount('blocks', config.blocks, 1);
  checkCount('repeats', config.repeats, 1);
  checkCount('warmup', config.warmup, 0);
  const { onRun, ...generateOptions } = options;
  const request: GenerateRequest = { seed: config.seed, blocks: config.blocks, prompt: config.prompt };
  for (let i = 0; i < config.warmup; i++) await measureGeneration(runtime, request, generateOptions);
  const runs: Measurement[] = [];
  for (let i = 0; i < config.repeats; i++) {
    const run = await measureGeneration(runtime, request, generateOptions);
    runs.push(run);
    onRun?.(run, i);
  }
  return runs;
}
