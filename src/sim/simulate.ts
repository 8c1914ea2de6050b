/**
 * The cascade simulator: the real supervisor, block actors and tick barrier, with lanes that
 * take a modelled time instead of running a model. Each tick advances a virtual clock by the
 * cost model below and resolves at once, so a 60-block run of a 14B model takes milliseconds.
 *
 * Cost of a tick with m in-flight blocks on N lanes:
 * - `joint` (one lane): forwardMs · m^jointScaling.
 * - `lanes`: the tick's frames split evenly over min(N, frames) lanes; the busiest lane's share,
 *   in blocks, times forwardMs, plus exchangeMs per layer when more than one lane is busy.
 * Decoding is not modelled (it overlaps on other lanes in the runtime).
 */
import { toPromise } from 'xstate';
import { createGenerationSystem } from '../actors/system.js';
import type { ExecMode, Parallelism } from '../core/cascade-options.js';
import { cascadeSchedule } from '../core/schedule.js';
import type { TickPlan } from '../core/tick.js';
import type { CostModel } from '../engine/executors/kind.js';
import { executorKind } from '../engine/executors/registry.js';
import { VirtualExecutor } from '../engine/executors/virtual.js';

export interface SimOptions {
  readonly parallelism: Parallelism;
  readonly lanes: number;
  /** A registered execution mode: its cost model prices each tick. */
  readonly exec: ExecMode;
  /** Milliseconds of one block's forward on one lane. */
  readonly forwardMs: number;
  /** Milliseconds of one layer's K/V exchange between lanes. */
  readonly exchangeMs: number;
  readonly layers: number;
  readonly blocks: number;
  /** Video frames per block, for FPS (the paper counts 12). */
  readonly videoFramesPerBlock: number;
  /** Latent frames per block (how a block's work can be split over lanes). */
  readonly latentFramesPerBlock?: number;
  readonly jointScaling?: number;
  /** Denoising steps per block (default 4). */
  readonly steps?: number;
}

export interface SimResult {
  readonly parallelism: Parallelism;
  readonly ticks: number;
  readonly virtualMs: number;
  readonly blocksPerSecond: number;
  readonly fps: number;
  readonly maxInFlight: number;
}

const costModelOf = (o: SimOptions): CostModel => ({
  forwardMs: o.forwardMs,
  exchangeMs: o.exchangeMs,
  layers: o.layers,
  lanes: o.lanes,
  latentFramesPerBlock: o.latentFramesPerBlock ?? 3,
  jointScaling: o.jointScaling ?? 1,
});

/** Virtual milliseconds of one tick under the execution mode's cost model. */
export function tickCost(plan: Pick<TickPlan, 'members'>, o: SimOptions): number {
  return executorKind(o.exec).cost(plan, costModelOf(o));
}

/**
 * Runs one generation of `blocks` blocks on the virtual clock.
 *
 * @example
 * ```ts
 * const r = await simulate({ parallelism: 4, lanes: 5, exec: 'lanes', forwardMs: 150, exchangeMs: 0, layers: 30, blocks: 60, videoFramesPerBlock: 12 });
 * r.fps; // ≈ 80 - the ideal for the 1.3B model
 * ```
 */
export async function simulate(o: SimOptions): Promise<SimResult> {
  const executor = new VirtualExecutor(executorKind(o.exec), costModelOf(o));
  const perBlock = o.latentFramesPerBlock ?? 3;
  const { actor } = createGenerationSystem({
    seed: 0,
    blocks: o.blocks,
    schedule: cascadeSchedule(o.steps ?? 4, o.parallelism),
    attention: 'bidirectional',
    // The simulated video has no prompt switch: nothing to re-cache.
    recache: false,
    executor,
    port: { encodePrompts: async () => {}, decode: async () => {} },
    framesPerBlock: perBlock,
    latentSlots: 8,
    prompts: [{ fromBlock: 0, contextSlot: 0 }],
    kv: { capacity: 64, sinkFrames: perBlock, windowFrames: 3 * perBlock },
  });
  actor.start();
  await toPromise(actor);
  const seconds = executor.elapsedMs / 1000;
  return {
    parallelism: o.parallelism,
    ticks: executor.ticks,
    virtualMs: executor.elapsedMs,
    blocksPerSecond: o.blocks / seconds,
    fps: (o.blocks * o.videoFramesPerBlock) / seconds,
    maxInFlight: executor.maxInFlight,
  };
}

/** Forward time implied by a sequential FPS: one block = steps + 1 forwards = videoFramesPerBlock frames. */
export const forwardMsFromFps = (fps: number, videoFramesPerBlock = 12, steps = 4) => (1000 * videoFramesPerBlock) / (fps * (steps + 1));

/**
 * The per-layer exchange cost at which P4 on `lanes` lanes reaches `targetFps` (bisection on
 * the simulator itself).
 *
 * @example
 * ```ts
 * await impliedExchangeMs({ ...paper13b, targetFps: 30 }); // ≈ 8.3 ms per layer
 * ```
 */
export async function impliedExchangeMs(o: Omit<SimOptions, 'exchangeMs' | 'parallelism' | 'exec'> & { readonly targetFps: number }): Promise<number> {
  let low = 0;
  let high = 1000;
  for (let i = 0; i < 40; i++) {
    const mid = (low + high) / 2;
    const r = await simulate({ ...o, parallelism: 4, exec: 'lanes', exchangeMs: mid });
    if (r.fps > o.targetFps) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}
