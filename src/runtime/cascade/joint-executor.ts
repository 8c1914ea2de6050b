/**
 * Runs each tick as one joint forward on one lane: the tick's blocks joined along the frame
 * axis, each with its own timestep, the caching block at t = 0 in the same call. With one
 * block per tick (P0) this is exactly the sequential pipeline's forward.
 */
import type { TickMemberTask } from '../../protocol/lane-messages.js';
import type { Lane } from '../lanes/lane.js';
import { stagePlan, type Schedule } from '../sampler.js';
import type { TickExecutor, TickPlan, TickTiming } from './tick.js';

/** A tick member with its sampler step resolved from the schedule. */
export function memberTask(member: TickPlan['members'][number], schedule: Schedule): TickMemberTask {
  const { timestep, sigma, sigmaNext } = stagePlan(schedule, member.stage);
  return { ...member, timestep, sigma, sigmaNext };
}

/**
 * @example
 * ```ts
 * const executor = new JointExecutor(schedule, () => leastBusy(lanes));
 * await executor.run(plan);
 * ```
 */
export class JointExecutor implements TickExecutor {
  constructor(
    private readonly schedule: Schedule,
    private readonly pickLane: () => Lane,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    const newest = plan.members[plan.members.length - 1];
    if (!newest) throw new Error(`tick ${plan.tick} has no blocks`);
    const timing = await this.pickLane().tick({
      kind: 'tick',
      members: plan.members.map((member) => memberTask(member, this.schedule)),
      // One call has one prompt context: the newest block's, i.e. the current prompt.
      contextSlot: newest.contextSlot,
      attention: plan.attention,
      pastSlots: plan.pastSlots,
      cacheSlots: plan.cacheSlots,
    });
    return { forwards: plan.members.length, calls: 1, runMs: timing.runMs, workerMs: timing.workerMs, taskMs: timing.taskMs };
  }
}
