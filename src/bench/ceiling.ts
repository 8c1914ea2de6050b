/**
 * The machine's parallel ceiling: the aggregate blocks/s of N independent sequential (P0)
 * generations running at once, each on its own runtime of 1 lane × 1 thread, ÷ the blocks/s of
 * one such generation alone. It is what N lanes can give at best on this machine (memory
 * bandwidth, shared caches, turbo clocks and the one actor thread included), so every cascade
 * ratio of a run is read against the ceiling measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import type { GenerateRequest } from '../core/api-types.js';
import type { CascadeOptions } from '../core/cascade-options.js';
import { median } from '../core/median.js';
import type { MeasurableRuntime } from './measure.js';

/** The settings of every generation the ceiling runs: sequential, as the P0 baseline. */
export const CEILING_CASCADE: Pick<CascadeOptions, 'parallelism' | 'attention' | 'exec'> = {
  parallelism: 0,
  attention: 'bidirectional',
  exec: 'joint',
};

/** One generation of a concurrent sample, times in ms from the sample's start. */
export interface TimedGeneration {
  readonly blocks: number;
  readonly startMs: number;
  readonly firstFrameMs: number;
  readonly endMs: number;
}

/** N generations run at once. */
export interface ConcurrentSample {
  readonly generations: readonly TimedGeneration[];
  /** From the start to the last generation's end. */
  readonly wallMs: number;
  /** Σ blocks ÷ wall: the aggregate rate. */
  readonly blocksPerSecond: number;
}

/**
 * Runs one P0 generation of `request` on each runtime, all at once (iterated concurrently with
 * `Promise.all`), and times them.
 *
 * @example
 * ```ts
 * const s = await concurrentSample([runtimeA, runtimeB], { seed: 0, blocks: 8, prompt: 'red ball' });
 * s.blocksPerSecond; // 16 blocks ÷ the wall time until both finished
 * ```
 */
export async function concurrentSample(runtimes: readonly MeasurableRuntime[], request: GenerateRequest): Promise<ConcurrentSample> {
  const start = performance.now();
  const generations = await Promise.all(
    runtimes.map(async (runtime): Promise<TimedGeneration> => {
      const startMs = performance.now() - start;
      let firstFrameMs = Number.NaN;
      const blocks = new Set<number>();
      for await (const frame of runtime.generate(request, { cascade: CEILING_CASCADE })) {
        if (Number.isNaN(firstFrameMs)) firstFrameMs = performance.now() - start;
        blocks.add(frame.block);
      }
      return { blocks: blocks.size, startMs, firstFrameMs, endMs: performance.now() - start };
    }),
  );
  const wallMs = Math.max(...generations.map((g) => g.endMs));
  const blocks = generations.reduce((sum, g) => sum + g.blocks, 0);
  return { generations, wallMs, blocksPerSecond: wallMs > 0 ? (blocks * 1000) / wallMs : 0 };
}

/** The ceiling of a run and what it was made of. */
export interface CeilingFigures {
  /** Median aggregate blocks/s together ÷ median blocks/s alone. */
  readonly ceiling: number;
  /** Generations run at once (= runtimes). */
  readonly concurrent: number;
  readonly aloneBlocksPerSecond: number;
  readonly togetherBlocksPerSecond: number;
  /** Every measured concurrent sample (after the warm-up). */
  readonly samples: readonly ConcurrentSample[];
}

/**
 * The ceiling from measured rates (pure): medians of the aggregate rates ÷ median of the alone rates.
 *
 * @example
 * ```ts
 * ceilingOf([10, 10.4], [17, 18, 17.6]).ceiling; // 1.72…
 * ```
 */
export function ceilingOf(aloneBlocksPerSecond: readonly number[], samples: readonly ConcurrentSample[] | readonly number[]): Omit<CeilingFigures, 'samples' | 'concurrent'> {
  const together = samples.map((s) => (typeof s === 'number' ? s : s.blocksPerSecond));
  const alone = median(aloneBlocksPerSecond);
  const togetherBps = median(together);
  return { ceiling: alone > 0 ? togetherBps / alone : 0, aloneBlocksPerSecond: alone, togetherBlocksPerSecond: togetherBps };
}

/**
 * Measures the ceiling on its own: each round runs one generation alone (on the first runtime),
 * then one on every runtime at once; warm-up rounds are not counted.
 *
 * @example
 * ```ts
 * const a = await createRuntime({ lanes: 1 });
 * const b = await createRuntime({ lanes: 1 });
 * const { ceiling } = await measureCeiling([a, b], { seed: 0, blocks: 8, prompt: 'red ball' }, { repeats: 3, warmup: 1 });
 * ```
 */
export async function measureCeiling(
  runtimes: readonly MeasurableRuntime[],
  request: GenerateRequest,
  options: { readonly repeats: number; readonly warmup: number },
): Promise<CeilingFigures> {
  if (runtimes.length < 2) throw new RangeError(`the ceiling needs at least 2 runtimes, got ${runtimes.length}`);
  if (options.repeats < 1) throw new RangeError(`"repeats" must be at least 1, got ${options.repeats}`);
  const alone: number[] = [];
  const samples: ConcurrentSample[] = [];
  for (let round = 0; round < options.warmup + options.repeats; round++) {
    const one = await concurrentSample(runtimes.slice(0, 1), request);
    const all = await concurrentSample(runtimes, request);
    if (round < options.warmup) continue;
    alone.push(one.blocksPerSecond);
    samples.push(all);
  }
  return { ...ceilingOf(alone, samples), concurrent: runtimes.length, samples };
}
