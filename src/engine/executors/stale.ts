/**
 * `stale` execution: a tick's frames spread over the lanes like `lanes`, but each lane runs one
 * monolithic forward over its frames and sees the tick's other frames through their K/V of the
 * tick before, so no lane waits for another inside a tick (no per-layer barrier, one call per
 * lane instead of two per layer). It changes frames: a block sees its neighbours on the other
 * lane one step behind, so its quality is measured (`docs/quality.md`, `docs/performance.md`).
 * A tick of one block (the sequential pipeline) runs whole on one lane and is exact.
 */
import type { Schedule } from '../../core/sampler.js';
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import { inService, type Lane } from '../lanes/lane.js';
import type { StaleStore } from '../lanes/stale-store.js';
import { recacheOn, tickCall } from './joint.js';
import { assertComputes, type ExecutorKind } from './kind.js';
import { lanes, shareFrames } from './lanes.js';

/**
 * @example
 * ```ts
 * const executor = new StaleExecutor(schedule, runtime.lanes, store, 3);
 * ```
 */
export class StaleExecutor implements TickExecutor {
  constructor(
    private readonly schedule: Schedule,
    private readonly lanes: readonly Lane[],
    private readonly store: StaleStore,
    private readonly framesPerBlock: number,
    /** The generation's memory set (`ExecutorContext.memory`); the store is that set's. */
    private readonly memory = 0,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    assertComputes(plan, 'stale');
    const call = tickCall(plan, this.schedule, this.memory);
    const frames = plan.members.length * this.framesPerBlock;
    // One block: no neighbour to be stale about; it runs whole on one lane.
    const lanes = inService(this.lanes);
    const shares = plan.members.length === 1 ? [{ from: 0, to: frames }] : shareFrames(frames, lanes.length);
    const results = await Promise.all(
      shares.map((share, i) =>
        (lanes[plan.members.length === 1 ? lanes.length - 1 : i] as Lane).stale({
          kind: 'stale',
          ...call,
          tick: plan.tick,
          frames: share,
          store: this.store,
        }),
      ),
    );
    const sum = (f: (r: (typeof results)[number]) => number) => results.reduce((total, r) => total + f(r), 0);
    return { forwards: plan.members.length, calls: results.length, runMs: sum((r) => r.runMs), workerMs: sum((r) => r.workerMs), taskMs: sum((r) => r.taskMs) };
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return recacheOn(inService(this.lanes)[0] as Lane, plan, this.schedule, this.memory);
  }
}

/**
 * `stale`: like `lanes` without the per-layer exchange. Needs two lanes and the monolithic
 * graph with an attention mask. Simulated cost: the busiest lane's share in blocks times
 * forwardMs; no exchange.
 */
export const stale: ExecutorKind = {
  name: 'stale',
  description: 'a tick spread over two or more lanes, each seeing the others\' frames one step behind (no per-layer wait; changes frames)',
  needs: { minLanes: 2, layered: false, reusesFeatures: false },
  exact: false,
  create: (context) => {
    if (!context.staleStore) throw new Error('"stale" execution needs the runtime\'s stale store');
    return new StaleExecutor(context.schedule, context.lanes, context.staleStore(), context.framesPerBlock, context.memory ?? 0);
  },
  // `lanes` without its exchange; a one-block tick runs whole on one lane.
  cost: (plan, model) => (plan.members.length === 1 ? model.forwardMs : lanes.cost(plan, { ...model, exchangeMs: 0 })),
};
