/**
 * The simulator's virtual lanes: an executor that runs no model and advances a virtual clock by
 * a registered mode's cost model, so the real actors can schedule a 60-block run of a 14B model
 * in milliseconds.
 */
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import type { CostModel, ExecutorKind } from './kind.js';

/**
 * @example
 * ```ts
 * const clock = new VirtualExecutor(executorKind('lanes'), costModel);
 * // … run a generation's actors against it …
 * clock.elapsedMs; // virtual milliseconds
 * ```
 */
export class VirtualExecutor implements TickExecutor {
  elapsedMs = 0;
  ticks = 0;
  maxInFlight = 0;

  constructor(
    private readonly kind: ExecutorKind,
    private readonly model: CostModel,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    const cost = this.kind.cost(plan, this.model);
    this.elapsedMs += cost;
    this.ticks++;
    this.maxInFlight = Math.max(this.maxInFlight, plan.members.length);
    return { forwards: plan.members.length, calls: 1, runMs: cost, workerMs: cost, taskMs: cost };
  }

  /** A forward over the cached frames, costed by their share of a block. */
  async recache(plan: RecachePlan): Promise<TickTiming> {
    const cost = (this.model.forwardMs * plan.slots.length) / this.model.latentFramesPerBlock;
    this.elapsedMs += cost;
    return { forwards: 1, calls: 1, runMs: cost, workerMs: cost, taskMs: cost };
  }
}
