/**
 * Runs each tick as one joint forward on one lane: the tick's blocks joined along the frame
 * axis, each with its own timestep, the caching block at t = 0 in the same call. With one
 * block per tick (P0) this is exactly the sequential pipeline's forward.
 */
import type { TickMemberTask, TickTask } from '../../protocol/lane-messages.js';
import type { Lane } from '../lanes/lane.js';
import { stagePlan, type Schedule } from '../../core/sampler.js';
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import { assertComputes, type ExecutorKind } from './kind.js';

/** A tick member with its sampler step resolved from the schedule. */
export function memberTask(member: TickPlan['members'][number], schedule: Schedule): TickMemberTask {
  const { stage, timestep, sigma, sigmaNext, isCache } = stagePlan(schedule, member.stage);
  // The next denoising step's timestep, for teacache's look-ahead at the next step's input.
  const next = member.stage + 1 < schedule.timesteps.length ? { nextTimestep: schedule.timesteps[member.stage + 1] as number } : {};
  return { ...member, stageName: stage, timestep, sigma, sigmaNext, cache: isCache, ...next };
}

/**
 * What every call of a tick carries, whichever mode runs it (`tick`, `share`, `stale`): the
 * members with their sampler steps, the newest block's prompt context (one call has one prompt:
 * `switchMode: 'at-block'` gives a tick that spans a switch one call per prompt), the attention
 * mode, the past and the caching member's slots.
 *
 * @example
 * ```ts
 * await lane.tick({ kind: 'tick', ...tickCall(plan, schedule, 0) });
 * ```
 */
export function tickCall(plan: TickPlan, schedule: Schedule, memory: number): Omit<TickTask, 'kind'> {
  const newest = plan.members[plan.members.length - 1];
  if (!newest) throw new Error(`tick ${plan.tick} has no blocks`);
  return {
    memory,
    members: plan.members.map((member) => memberTask(member, schedule)),
    contextSlot: newest.contextSlot,
    attention: plan.attention,
    pastSlots: plan.pastSlots,
    ...(plan.pastKey === undefined ? {} : { pastKey: plan.pastKey }),
    cacheSlots: plan.cacheSlots,
    ...(plan.window === undefined ? {} : { window: plan.window }),
  };
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
    /** The generation's memory set (`ExecutorContext.memory`). */
    private readonly memory = 0,
  ) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    assertComputes(plan, 'joint');
    const timing = await this.pickLane().tick({ kind: 'tick', ...tickCall(plan, this.schedule, this.memory) });
    return { forwards: plan.members.length, calls: 1, runMs: timing.runMs, workerMs: timing.workerMs, taskMs: timing.taskMs };
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return recacheOn(this.pickLane(), plan, this.schedule, this.memory);
  }
}

/**
 * Runs a re-cache on one lane with the monolithic model (in `lanes` execution too: it is one
 * forward with no cascade partner to exchange with).
 *
 * @example
 * ```ts
 * await recacheOn(lanes[0], plan, schedule);
 * ```
 */
export async function recacheOn(lane: Lane, plan: RecachePlan, schedule: Schedule, memory = 0): Promise<TickTiming> {
  const { timestep } = stagePlan(schedule, schedule.sigmas.length);
  const timing = await lane.recache({ kind: 'recache', memory, contextSlot: plan.contextSlot, slots: plan.slots, positions: plan.positions, blocks: plan.blocks, timestep });
  return { forwards: 1, calls: 1, runMs: timing.runMs, workerMs: timing.workerMs, taskMs: timing.taskMs };
}

/**
 * `joint`: every in-flight block in one forward on the least busy lane. Runs on one lane and on
 * the monolithic graph. Simulated cost: forwardMs · m^jointScaling for m blocks.
 */
export const joint: ExecutorKind = {
  name: 'joint',
  description: 'one forward per tick on one lane',
  needs: { minLanes: 1, layered: false, reusesFeatures: false },
  exact: true,
  create: (context) => new JointExecutor(context.schedule, context.pickLane, context.memory ?? 0),
  cost: (plan, model) => model.forwardMs * plan.members.length ** model.jointScaling,
};
