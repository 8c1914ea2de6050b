/**
 * The executor every generation runs through: a tick's sampler steps are staged by the lanes
 * (`SharedMemory.latentSteps`) and committed here once the whole tick has succeeded; a tick
 * interrupted by a lane crash runs again (`engine/lanes/crash-recovery.ts`).
 */
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import { retryCrashes, type CrashRecovery } from '../lanes/crash-recovery.js';
import type { SlotSlab } from '../memory/slot-slab.js';
import { slotView } from '../memory/slot-slab.js';

/**
 * @example
 * ```ts
 * const executor = new RecoveringExecutor(joint.create(context), { latents, latentSteps, steps: 4 }, recovery);
 * await executor.run(plan); // committed, or run again after a crash
 * ```
 */
export class RecoveringExecutor implements TickExecutor {
  constructor(
    private readonly inner: TickExecutor,
    private readonly slabs: { readonly latents: SlotSlab; readonly latentSteps: SlotSlab; readonly steps: number },
    private readonly recovery: CrashRecovery,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    const timing = await retryCrashes(() => this.inner.run(plan), this.recovery);
    // Every lane has returned: the staged steps become the blocks' latents.
    for (const member of plan.members) {
      if (member.commit === false || member.stage >= this.slabs.steps) continue;
      slotView(this.slabs.latents, member.latentSlot).set(slotView(this.slabs.latentSteps, member.latentSlot));
    }
    return timing;
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return retryCrashes(() => this.inner.recache(plan), this.recovery);
  }
}
