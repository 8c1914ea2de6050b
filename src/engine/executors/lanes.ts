/**
 * Runs each tick spread over the lanes (`lanes` execution): the tick's frames are split into
 * contiguous, equal shares (a block may be split — lanes are balanced by work, not by block
 * count), one share per lane, and the lanes exchange every layer's K/V through shared memory.
 */
import type { ShareResult } from '../../protocol/lane-messages.js';
import type { Lane } from '../lanes/lane.js';
import type { Schedule } from '../../core/sampler.js';
import { resetExchange, type ExchangeSlab } from '../lanes/exchange.js';
import { joint, memberTask, recacheOn } from './joint.js';
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';
import { assertComputes, type ExecutorKind } from './kind.js';

/**
 * Contiguous frame ranges of `frames` frames over at most `lanes` lanes, as equal as possible.
 *
 * @example
 * ```ts
 * shareFrames(15, 2); // [{ from: 0, to: 8 }, { from: 8, to: 15 }]
 * ```
 */
export function shareFrames(frames: number, lanes: number): { from: number; to: number }[] {
  const used = Math.min(lanes, frames);
  return Array.from({ length: used }, (_, i) => ({ from: Math.ceil((i * frames) / used), to: Math.ceil(((i + 1) * frames) / used) }));
}

/** Timing of a lanes tick, with the time lanes waited for each other at layer barriers. */
export interface LanesTickTiming extends TickTiming {
  readonly exchangeWaitMs: number;
}

/**
 * @example
 * ```ts
 * const executor = new LanesExecutor(schedule, runtime.lanes, exchange, framesPerBlock);
 * ```
 */
export class LanesExecutor implements TickExecutor {
  constructor(
    private readonly schedule: Schedule,
    private readonly lanes: readonly Lane[],
    private readonly exchange: ExchangeSlab,
    private readonly framesPerBlock: number,
  ) {}

  async run(plan: TickPlan): Promise<LanesTickTiming> {
    const newest = plan.members[plan.members.length - 1];
    if (!newest) throw new Error(`tick ${plan.tick} has no blocks`);
    assertComputes(plan, 'lanes');
    const shares = shareFrames(plan.members.length * this.framesPerBlock, this.lanes.length);
    const members = plan.members.map((member) => memberTask(member, this.schedule));
    // Every lane of the previous tick has returned: nobody is inside the exchange now.
    resetExchange(this.exchange);
    const start = performance.now();
    const results = await Promise.all(
      shares.map((frames, i) =>
        (this.lanes[i] as Lane).share({
          kind: 'share',
          tick: plan.tick,
          members,
          contextSlot: newest.contextSlot,
          attention: plan.attention,
          pastSlots: plan.pastSlots,
          cacheSlots: plan.cacheSlots,
          frames,
          lanes: shares.length,
        }),
      ),
    );
    const sum = (f: (r: ShareResult) => number) => results.reduce((total, r) => total + f(r), 0);
    return {
      forwards: plan.members.length,
      calls: results.length,
      runMs: sum((r) => r.runMs),
      workerMs: sum((r) => r.workerMs),
      taskMs: performance.now() - start,
      exchangeWaitMs: sum((r) => r.exchangeWaitMs),
    };
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return recacheOn(this.lanes[0] as Lane, plan, this.schedule);
  }
}

/**
 * `lanes`: a tick's frames in equal contiguous shares over the lanes, K/V exchanged at every
 * layer. Needs two lanes and the layered graphs. Simulated cost: the busiest lane's share in
 * blocks times forwardMs, plus one exchange per layer when more than one lane is busy.
 */
export const lanes: ExecutorKind = {
  name: 'lanes',
  description: 'a tick spread over two or more lanes with per-layer K/V exchange',
  needs: { minLanes: 2, layered: true, reusesFeatures: false },
  create: (context) => new LanesExecutor(context.schedule, context.lanes, context.exchange, context.framesPerBlock),
  cost: (plan, model) => {
    if (model.lanes === 1) return joint.cost(plan, model);
    const perBlock = model.latentFramesPerBlock;
    const shares = shareFrames(plan.members.length * perBlock, model.lanes);
    const busiest = Math.max(...shares.map((s) => s.to - s.from)) / perBlock;
    return model.forwardMs * busiest + (shares.length > 1 ? model.exchangeMs * model.layers : 0);
  },
};
