/**
 * What starting costs: `createRuntime` time and the time to the first frame of the first
 * generation, for a cold runtime (sessions loaded, never run) and a warm one (each session run
 * once at start-up), alternated over repeats; medians.
 */
import { performance } from 'node:perf_hooks';
import type { GenerateRequest, RuntimeOptions } from '../core/api-types.js';
import { median } from '../core/median.js';
import type { Runtime } from '../api/runtime.js';

/** Medians of one start-up mode. */
export interface StartupFigures {
  readonly warmUp: boolean;
  /** `createRuntime` wall time. */
  readonly createMs: number;
  /** The warm-up's share of it. */
  readonly warmUpMs: number;
  /** From the first generation's start to its first frame. */
  readonly firstFrameMs: number;
  /** The first generation's first tick against a later generation's (ms per forward, first ÷ steady). */
  readonly firstGenerationMsPerBlock: number;
  readonly steadyMsPerBlock: number;
}

/**
 * Creates and closes runtimes `repeats` times per mode, alternating cold and warm.
 *
 * @example
 * ```ts
 * const [cold, warm] = await measureStartup(createRuntime, { model: 'models/sprites', lanes: 2 }, request, 3);
 * ```
 */
export async function measureStartup(
  create: (options: RuntimeOptions) => Promise<Runtime>,
  options: RuntimeOptions,
  request: GenerateRequest,
  repeats: number,
): Promise<readonly [StartupFigures, StartupFigures]> {
  const samples = new Map<boolean, { create: number[]; warm: number[]; first: number[]; firstGen: number[]; steady: number[] }>();
  for (let r = 0; r < repeats; r++) {
    for (const warmUp of [false, true]) {
      const s = samples.get(warmUp) ?? { create: [], warm: [], first: [], firstGen: [], steady: [] };
      samples.set(warmUp, s);
      const t0 = performance.now();
      const runtime = await create({ ...options, warmUp });
      s.create.push(performance.now() - t0);
      s.warm.push(runtime.startup.warmUpMs);
      try {
        const timed = async () => {
          const start = performance.now();
          let first = Number.NaN;
          for await (const _frame of runtime.generate(request)) if (Number.isNaN(first)) first = performance.now() - start;
          return { first, msPerBlock: (performance.now() - start) / request.blocks };
        };
        const one = await timed();
        s.first.push(one.first);
        s.firstGen.push(one.msPerBlock);
        s.steady.push((await timed()).msPerBlock);
      } finally {
        await runtime.close();
      }
    }
  }
  const figures = (warmUp: boolean): StartupFigures => {
    const s = samples.get(warmUp) as NonNullable<ReturnType<typeof samples.get>>;
    return { warmUp, createMs: median(s.create), warmUpMs: median(s.warm), firstFrameMs: median(s.first), firstGenerationMsPerBlock: median(s.firstGen), steadyMsPerBlock: median(s.steady) };
  };
  return [figures(false), figures(true)];
}
