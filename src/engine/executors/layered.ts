/**
 * Runs each tick on one lane through the layered graphs (embed, per layer a K/V graph and the
 * layer, head): the `lanes` code path with a single share. Slower than `joint` by the graph
 * boundaries, but the layer stack is visible, so a member can skip it: this is the mode of
 * block-wise feature caching (`docs/caching.md`). With the feature cache off it equals `joint`
 * up to float rounding.
 */
import type { Schedule } from '../../core/sampler.js';
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import type { ExchangeSlab } from '../lanes/exchange.js';
import type { FeatureStore } from '../lanes/feature-store.js';
import type { Lane } from '../lanes/lane.js';
import { joint, recacheOn } from './joint.js';
import type { ExecutorKind } from './kind.js';
import { runSharedTick, type LanesTickTiming } from './lanes.js';

/**
 * @example
 * ```ts
 * const executor = new LayeredExecutor(schedule, () => leastBusy(lanes), exchange, 3, featureStore);
 * await executor.run(plan);
 * ```
 */
export class LayeredExecutor implements TickExecutor {
  constructor(
    private readonly schedule: Schedule,
    private readonly pickLane: () => Lane,
    private readonly exchange: ExchangeSlab,
    private readonly framesPerBlock: number,
    private readonly featureStore: FeatureStore | null,
    /** The generation's memory set (`ExecutorContext.memory`). */
    private readonly memory = 0,
  ) {}

  run(plan: TickPlan): Promise<LanesTickTiming> {
    const reusing = plan.members.find((m) => m.features === 'reuse' || m.features === 'decide');
    if (reusing && !this.featureStore) throw new Error(`tick ${plan.tick}: block ${reusing.block} asks to reuse cached features, but this generation has no feature cache`);
    return runSharedTick(plan, [this.pickLane()], { schedule: this.schedule, exchange: this.exchange, framesPerBlock: this.framesPerBlock, featureStore: this.featureStore, memory: this.memory });
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return recacheOn(this.pickLane(), plan, this.schedule, this.memory);
  }
}

/**
 * `layered`: every tick on the least busy lane, through the layered graphs; reuses features.
 * Simulated cost: a joint forward of the computing members, plus embed and head (about
 * 2/(layers + 2) of a forward) for each reusing one.
 */
export const layered: ExecutorKind = {
  name: 'layered',
  description: 'one lane per tick through the layered graphs (feature caching can skip layers)',
  needs: { minLanes: 1, layered: true, reusesFeatures: true },
  exact: true,
  create: (context) => new LayeredExecutor(context.schedule, context.pickLane, context.exchange, context.framesPerBlock, context.featureStore ?? null, context.memory ?? 0),
  cost: (plan, model) => {
    const reusing = plan.members.filter((m) => m.features === 'reuse').length;
    const computing = plan.members.length - reusing;
    return (computing > 0 ? joint.cost({ members: plan.members.slice(0, computing) }, model) : 0) + (reusing * model.forwardMs * 2) / (model.layers + 2);
  },
};
