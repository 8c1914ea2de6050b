/**
 * Measuring one generation: wall time, time to first frame, and the runtime's own counters
 * (forwards, time inside `session.run`, time per task as seen by the actor thread) taken as
 * deltas around the generation, so earlier work on the same runtime does not count.
 */
import { performance } from 'node:perf_hooks';
import type { Frame, GenerateOptions, GenerateRequest, RuntimeStats } from '../core/api-types.js';

/** What {@link measureGeneration} needs of a runtime (a `Runtime`, or a fake in tests). */
export interface MeasurableRuntime {
  generate(request: GenerateRequest, options?: GenerateOptions): AsyncIterable<Frame>;
  stats(): RuntimeStats;
}

/** The figures of one generation. */
export interface Measurement {
  readonly blocks: number;
  readonly frames: number;
  readonly wallMs: number;
  /** From the start of iteration to the first frame. */
  readonly firstFrameMs: number;
  /** Denoiser forwards run during the generation. */
  readonly forwards: number;
  /** Milliseconds inside `session.run` for those forwards. */
  readonly forwardRunMs: number;
  /** Milliseconds from dispatching those forwards to receiving their results. */
  readonly forwardTaskMs: number;
  readonly blocksPerSecond: number;
  readonly framesPerSecond: number;
  /** Wall time divided by forwards: the effective cost of one forward. */
  readonly msPerForward: number;
  /** (forwardTaskMs − forwardRunMs) / forwards: messages, copies and waiting around each forward. */
  readonly overheadMsPerForward: number;
  /** The overhead per forward as a percentage of the time one forward spends in `session.run`. */
  readonly overheadPercent: number;
}

/** NaN-free division: a run with no forwards reports 0 rather than NaN or Infinity. */
const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

/**
 * Figures of a finished generation from raw timings and counter deltas (pure, for tests).
 *
 * @example
 * ```ts
 * const m = measurementOf({ blocks: 2, frames: 6, wallMs: 100, firstFrameMs: 50, forwards: 10, forwardRunMs: 80, forwardTaskMs: 90 });
 * m.overheadMsPerForward; // 1
 * ```
 */
export function measurementOf(raw: {
  blocks: number;
  frames: number;
  wallMs: number;
  firstFrameMs: number;
  forwards: number;
  forwardRunMs: number;
  forwardTaskMs: number;
}): Measurement {
  const overheadMsPerForward = ratio(raw.forwardTaskMs - raw.forwardRunMs, raw.forwards);
  return {
    ...raw,
    blocksPerSecond: ratio(raw.blocks * 1000, raw.wallMs),
    framesPerSecond: ratio(raw.frames * 1000, raw.wallMs),
    msPerForward: ratio(raw.wallMs, raw.forwards),
    overheadMsPerForward,
    overheadPercent: 100 * ratio(overheadMsPerForward, ratio(raw.forwardRunMs, raw.forwards)),
  };
}

/**
 * Runs one generation to the end, discarding the frames, and measures it.
 *
 * @example
 * ```ts
 * const m = await measureGeneration(runtime, { seed: 0, blocks: 8, prompt: 'red ball moving left' });
 * console.log(m.framesPerSecond.toFixed(1), 'FPS');
 * ```
 */
export async function measureGeneration(runtime: MeasurableRuntime, request: GenerateRequest, options: GenerateOptions = {}): Promise<Measurement> {
  const before = runtime.stats();
  const start = performance.now();
  let firstFrameMs = Number.NaN;
  let frames = 0;
  const blocks = new Set<number>();
  for await (const frame of runtime.generate(request, options)) {
    if (frames === 0) firstFrameMs = performance.now() - start;
    frames++;
    blocks.add(frame.block);
  }
  const wallMs = performance.now() - start;
  const after = runtime.stats();
  return measurementOf({
    blocks: blocks.size,
    frames,
    wallMs,
    firstFrameMs,
    forwards: after.forwards - before.forwards,
    forwardRunMs: after.forwardRunMs - before.forwardRunMs,
    forwardTaskMs: after.forwardTaskMs - before.forwardTaskMs,
  });
}

/**
 * The order in which a round runs `count` configurations: all of them, starting one further
 * each round, so that no configuration always follows the same one (a configuration measured
 * right after another carries some of that one's cost: its graphs in the caches, its threads).
 *
 * @example
 * ```ts
 * roundOrder(3, 1); // [1, 2, 0]
 * ```
 */
export function roundOrder(count: number, round: number): number[] {
  return Array.from({ length: count }, (_, j) => (j + round) % count);
}
