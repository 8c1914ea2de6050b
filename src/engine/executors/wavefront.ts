/**
 * `wavefront` execution: a causal cascade run one block's forward at a time, each as soon as what
 * it attends to exists. Under causal attention a block sees only older blocks, so its forward
 * needs their K/V of the tick, not a per-layer exchange with them: each forward is one monolithic
 * call over one block, attending to the committed cache and to the older blocks' K/V of this
 * tick, which their forwards wrote to the stale store (its parity of the tick). The tick barrier
 * dispatches the forwards (`ExecutorNeeds.dispatch: 'member'`): a tick's older blocks, and the
 * next tick's, run on the other lanes while its newer ones wait. Same arithmetic as a causal
 * joint tick under the trained window (`cascadeWindow: 'trained'`), whose window is what lets a
 * block's cache step commit before the tick's newer blocks run (none of them sees the frame it
 * evicts); results agree with `joint` to float rounding and do not depend on the lane count or
 * on the order the forwards ran in.
 */
import type { Schedule } from '../../core/sampler.js';
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import type { Lane } from '../lanes/lane.js';
import type { StaleStore } from '../lanes/stale-store.js';
import { memberTask, recacheOn, tickCall } from './joint.js';
import { assertComputes, type ExecutorKind } from './kind.js';

/**
 * @example
 * ```ts
 * const executor = new WavefrontExecutor(schedule, () => leastBusy(lanes), store, 3);
 * await executor.run({ ...plan, members: [member], attendsTo: olderBlocksOfTheTick });
 * ```
 */
export class WavefrontExecutor implements TickExecutor {
  constructor(
    private readonly schedule: Schedule,
    private readonly pickLane: () => Lane,
    private readonly store: StaleStore,
    private readonly framesPerBlock: number,
    /** The generation's memory set (`ExecutorContext.memory`); the store is that set's. */
    private readonly memory = 0,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    assertComputes(plan, 'wavefront');
    if (plan.members.length !== 1) throw new Error(`tick ${plan.tick}: "wavefront" runs one block per forward, the plan holds ${plan.members.length}`);
    const call = tickCall(plan, this.schedule, this.memory);
    // The older blocks are context: their K/V of this tick are read from the store, nothing of theirs is computed or kept.
    const older = (plan.attendsTo ?? []).map((member) => ({ ...memberTask(member, this.schedule), commit: false }));
    const from = older.length * this.framesPerBlock;
    const timing = await this.pickLane().stale({
      kind: 'stale',
      ...call,
      members: [...older, ...call.members],
      tick: plan.tick,
      frames: { from, to: from + this.framesPerBlock },
      store: this.store,
      read: 'same',
    });
    return { forwards: 1, calls: 1, runMs: timing.runMs, workerMs: timing.workerMs, taskMs: timing.taskMs };
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return recacheOn(this.pickLane(), plan, this.schedule, this.memory);
  }
}

/**
 * `wavefront`: causal cascades under the trained window, one block per forward, dispatched as
 * their inputs exist. Needs the monolithic graph with an attention mask; runs on any number of
 * lanes (on one, the forwards simply follow each other). Simulated cost: the tick's forwards
 * spread evenly over the lanes (the overlap of consecutive ticks fills them).
 */
export const wavefront: ExecutorKind = {
  name: 'wavefront',
  description: 'one forward per block, each as soon as the older blocks it attends to are done, consecutive ticks overlapping (causal attention, trained window)',
  needs: { minLanes: 1, layered: false, reusesFeatures: false, requires: { attention: 'causal', cascadeWindow: 'trained', switchMode: 'at-block' }, dispatch: 'member' },
  exact: true,
  create: (context) => {
    if (!context.staleStore) throw new Error('"wavefront" execution needs the runtime\'s stale store');
    return new WavefrontExecutor(context.schedule, context.pickLane, context.staleStore(), context.framesPerBlock, context.memory ?? 0);
  },
  cost: (plan, model) => (model.forwardMs * plan.members.length) / model.lanes,
};
