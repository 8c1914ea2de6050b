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
import { createActor, toPromise } from 'xstate';
import { reportingBlockMachine } from '../actors/block.js';
import { laneProxies } from '../actors/lane-proxy.js';
import { supervisorMachine } from '../actors/supervisor.js';
import { TickBarrier } from '../actors/tick-barrier.js';
import { lagOf, type ExecMode, type Parallelism } from '../core/cascade-options.js';
import { shareFrames } from '../engine/executors/lanes.js';
import type { TickExecutor, TickPlan } from '../core/tick.js';

export interface SimOptions {
  readonly parallelism: Parallelism;
  readonly lanes: number;
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
}

export interface SimResult {
  readonly parallelism: Parallelism;
  readonly ticks: number;
  readonly virtualMs: number;
  readonly blocksPerSecond: number;
  readonly fps: number;
  readonly maxInFlight: number;
}

/** Virtual milliseconds of one tick under the cost model. */
export function tickCost(plan: Pick<TickPlan, 'members'>, o: SimOptions): number {
  const m = plan.members.length;
  if (o.exec === 'joint' || o.lanes === 1) return o.forwardMs * m ** (o.jointScaling ?? 1);
  const perBlock = o.latentFramesPerBlock ?? 3;
  const shares = shareFrames(m * perBlock, o.lanes);
  const busiest = Math.max(...shares.map((s) => s.to - s.from)) / perBlock;
  return o.forwardMs * busiest + (shares.length > 1 ? o.exchangeMs * o.layers : 0);
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
  let clock = 0;
  let ticks = 0;
  let maxInFlight = 0;
  const executor: TickExecutor = {
    async run(plan) {
      const cost = tickCost(plan, o);
      clock += cost;
      ticks++;
      maxInFlight = Math.max(maxInFlight, plan.members.length);
      return { forwards: plan.members.length, calls: 1, runMs: cost, workerMs: cost, taskMs: cost };
    },
    // The simulated video has no prompt switch: no barrier asks for a re-cache. Costed as a
    // forward over the cached frames for completeness.
    async recache(plan) {
      const cost = (o.forwardMs * plan.slots.length) / (o.latentFramesPerBlock ?? 3);
      clock += cost;
      return { forwards: 1, calls: 1, runMs: cost, workerMs: cost, taskMs: cost };
    },
  };
  const lag = lagOf(o.parallelism);
  const barrier = new TickBarrier({ lag, blocks: o.blocks, attention: 'bidirectional', executor });
  const { forward, encodePrompt, decode } = laneProxies(barrier, { encodePrompts: async () => {}, decode: async () => {} });
  const machine = supervisorMachine.provide({ actors: { block: reportingBlockMachine.provide({ actors: { forward } }), encodePrompt, decode } });
  const perBlock = o.latentFramesPerBlock ?? 3;
  const actor = createActor(machine, {
    input: { seed: 0, blocks: o.blocks, lag, framesPerBlock: perBlock, latentSlots: 8, prompts: [{ fromBlock: 0, contextSlot: 0 }], kv: { capacity: 64, sinkFrames: perBlock, windowFrames: 3 * perBlock } },
  }).start();
  await toPromise(actor);
  const seconds = clock / 1000;
  return { parallelism: o.parallelism, ticks, virtualMs: clock, blocksPerSecond: o.blocks / seconds, fps: (o.blocks * o.videoFramesPerBlock) / seconds, maxInFlight };
}

/** Forward time implied by a sequential FPS: one block = 5 forwards = videoFramesPerBlock frames. */
export const forwardMsFromFps = (fps: number, videoFramesPerBlock = 12) => (1000 * videoFramesPerBlock) / (fps * 5);

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
