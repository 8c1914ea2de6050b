/**
 * The executor every generation runs through: a tick's sampler steps are staged by the lanes
 * (`SharedMemory.latentSteps`) and committed here once the whole tick has succeeded; a tick
 * interrupted by a lane crash runs again (`engine/lanes/crash-recovery.ts`).
 */
import { featureOutcome, type RecachePlan, type TickExecutor, type TickPlan, type TickTiming } from '../../core/tick.js';
import { retryCrashes, type CrashRecovery } from '../lanes/crash-recovery.js';
import type { SlotSlab } from '../memory/slot-slab.js';
import { slotView } from '../memory/slot-slab.js';
import type { ModelManifest } from '../../core/manifest-types.js';
import { commitFeatureSteps, type FeatureStore } from '../lanes/feature-store.js';

/**
 * @example
 * ```ts
 * const executor = new RecoveringExecutor(joint.create(context), { latents, latentSteps, steps: 4, features: null }, recovery);
 * await executor.run(plan); // committed, or run again after a crash
 * ```
 */
export class RecoveringExecutor implements TickExecutor {
  constructor(
    private readonly inner: TickExecutor,
    private readonly slabs: {
      readonly latents: SlotSlab;
      readonly latentSteps: SlotSlab;
      readonly steps: number;
      /** Block-wise feature caching's store, or null; its sizes come from the manifest. */
      readonly features: { readonly store: FeatureStore; readonly manifest: ModelManifest } | null;
    },
    private readonly recovery: CrashRecovery,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    const timing = await retryCrashes(() => this.inner.run(plan), this.recovery);
    if (timing.committed) return timing;
    // Every lane has returned: the staged steps become the blocks' latents (and cached features).
    const stepped = plan.members.filter((member) => member.commit !== false && member.stage < this.slabs.steps);
    for (const member of stepped) slotView(this.slabs.latents, member.latentSlot).set(slotView(this.slabs.latentSteps, member.latentSlot));
    if (this.slabs.features) commitFeatureSteps(this.slabs.features.store, this.slabs.features.manifest, stepped.map((member) => ({ latentSlot: member.latentSlot, features: featureOutcome(member, timing) })));
    return timing;
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return retryCrashes(() => this.inner.recache(plan), this.recovery);
  }
}
