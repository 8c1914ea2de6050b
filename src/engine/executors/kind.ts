/**
 * What a registered execution mode is: its name and needs (read by the options resolver), how
 * to make its executor on real lanes, and its cost model on the simulator's virtual clock.
 */
import type { Schedule } from '../../core/sampler.js';
import type { ExecutorInfo, TickExecutor, TickPlan } from '../../core/tick.js';
import type { ExchangeSlab } from '../lanes/exchange.js';
import type { FeatureStore } from '../lanes/feature-store.js';
import type { StaleStore } from '../lanes/stale-store.js';
import type { Lane } from '../lanes/lane.js';

/** What an executor may use of a runtime. */
export interface ExecutorContext {
  /** σ and timesteps of the generation's steps. */
  readonly schedule: Schedule;
  readonly lanes: readonly Lane[];
  readonly exchange: ExchangeSlab;
  readonly framesPerBlock: number;
  /** The least busy lane. */
  readonly pickLane: () => Lane;
  /**
   * Block-wise feature caching's shared store, when the generation's policy is not `none`
   * (modes that reuse features pass it to their lanes; absent: nothing is cached).
   */
  readonly featureStore?: FeatureStore | null;
  /** The `stale` mode's store of the tick before's K/V (allocated on first use). */
  readonly staleStore?: () => StaleStore;
  /**
   * The generation's memory set (one per concurrent session): every task the executor hands a
   * lane names it, and the exchange and stores above are that set's. Default 0.
   */
  readonly memory?: number;
  /** The model's `keyFrameWorkOf` (the `lanes` mode balances causal ticks by their keys); default 0. */
  readonly keyFrameWork?: number;
}

/** The simulator's cost model: what one forward and one exchange cost, and on how many lanes. */
export interface CostModel {
  /** Milliseconds of one block's forward on one lane. */
  readonly forwardMs: number;
  /** Milliseconds of one layer's K/V exchange between lanes. */
  readonly exchangeMs: number;
  readonly layers: number;
  readonly lanes: number;
  /** Latent frames per block (how a block's work can be split over lanes). */
  readonly latentFramesPerBlock: number;
  /** A joint forward of m blocks costs forwardMs · m^jointScaling (1: linear). */
  readonly jointScaling: number;
}

/**
 * A registered execution mode.
 *
 * @example
 * ```ts
 * const executor = joint.create({ schedule, lanes, exchange, framesPerBlock: 3, pickLane });
 * joint.cost({ members: [...] }, costModel); // virtual milliseconds of that tick
 * ```
 */
export interface ExecutorKind extends ExecutorInfo {
  create(context: ExecutorContext): TickExecutor;
  /** Virtual milliseconds of `plan` under `model` (the simulator's clock). */
  cost(plan: Pick<TickPlan, 'members'>, model: CostModel): number;
}

/**
 * Refuses a tick that asks a mode without feature reuse to reuse features: the seam exists,
 * the mode does not fill it.
 *
 * @example
 * ```ts
 * assertComputes(plan, 'joint');
 * ```
 */
export function assertComputes(plan: TickPlan, mode: string): void {
  const reusing = plan.members.find((m) => m.features === 'reuse' || m.features === 'decide');
  if (reusing) throw new Error(`tick ${plan.tick}: block ${reusing.block} asks to ${reusing.features === 'decide' ? 'choose after its first layer whether to reuse' : 'reuse'} cached features, which "${mode}" execution does not do`);
}
