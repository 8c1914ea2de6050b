/**
 * Runs each tick spread over the lanes (`lanes` execution): the tick's frames are split into
 * contiguous shares balanced by work (a block may be split — lanes are balanced by work, not by
 * block count), one share per lane, and the lanes exchange every layer's K/V through shared
 * memory. Under causal attention a lane reads only the keys of the blocks up to its last one and
 * waits only for the lanes that hold them, so the lanes holding older blocks get more frames.
 */
import type { ShareResult } from '../../protocol/lane-messages.js';
import { inService, type Lane } from '../lanes/lane.js';
import type { Schedule } from '../../core/sampler.js';
import { MAX_EXCHANGE_LANES, resetExchange, type ExchangeSlab } from '../lanes/exchange.js';
import { joint, recacheOn, tickCall } from './joint.js';
import { featureOutcome, type RecachePlan, type TickExecutor, type TickMember, type TickPlan, type TickTiming, type TickWindow } from '../../core/tick.js';
import { groupKeyFrames, keyGroups, type KeyGroup } from '../lanes/key-groups.js';
import type { AttentionMode } from '../../core/cascade-options.js';
import type { ExecutorKind } from './kind.js';
import { decidedIn, type FeatureStore } from '../lanes/feature-store.js';
import { indicatorsOf } from '../lanes/feature-indicators.js';

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

/**
 * What a frame that reuses cached features costs next to one that computes its layers: the
 * embedding and the head only (an estimate; it only moves share boundaries).
 */
export const REUSED_FRAME_WORK = 0.1;

/**
 * Contiguous frame ranges over at most `lanes` lanes that balance `work` (one weight per frame):
 * the split whose busiest lane has the least work, ties to the earlier cut; with equal weights
 * the same ranges as {@link shareFrames}.
 *
 * @example
 * ```ts
 * // A tick of two blocks whose first reuses: the second block's frames are shared out.
 * shareFramesByWork([0.1, 0.1, 0.1, 1, 1, 1], 2); // [{ from: 0, to: 4 }, { from: 4, to: 6 }]
 * ```
 */
export function shareFramesByWork(work: readonly number[], lanes: number): { from: number; to: number }[] {
  if (work.every((w) => w === work[0])) return shareFrames(work.length, lanes);
  const prefix = prefixSums(work);
  return shareFramesByCost(work.length, lanes, (from, to) => (prefix[to] as number) - (prefix[from] as number));
}

function prefixSums(values: readonly number[]): number[] {
  const prefix = [0];
  for (const v of values) prefix.push((prefix[prefix.length - 1] as number) + v);
  return prefix;
}

/**
 * Contiguous frame ranges over at most `lanes` lanes (each at least one frame) whose busiest
 * lane costs the least, where `cost(from, to)` is what a lane holding frames `[from, to)` costs
 * (it need not be a sum over frames: under causal attention a lane's keys depend on its last
 * frame); ties to the earlier cut.
 *
 * @example
 * ```ts
 * shareFramesByCost(6, 2, (from, to) => (to - from) * (1 + 0.1 * to)); // the later lane gets fewer frames
 * ```
 */
export function shareFramesByCost(frames: number, lanes: number, cost: (from: number, to: number) => number): { from: number; to: number }[] {
  const used = Math.min(lanes, frames);
  // best[k][i]: the least possible busiest-lane cost for frames [0, i) over k lanes.
  const best = Array.from({ length: used + 1 }, () => new Array<number>(frames + 1).fill(Number.POSITIVE_INFINITY));
  const cut = Array.from({ length: used + 1 }, () => new Array<number>(frames + 1).fill(0));
  (best[0] as number[])[0] = 0;
  for (let k = 1; k <= used; k++) {
    for (let i = k; i <= frames; i++) {
      for (let j = k - 1; j < i; j++) {
        const load = Math.max((best[k - 1] as number[])[j] as number, cost(j, i));
        if (load < ((best[k] as number[])[i] as number) - 1e-12) {
          (best[k] as number[])[i] = load;
          (cut[k] as number[])[i] = j;
        }
      }
    }
  }
  const shares: { from: number; to: number }[] = [];
  for (let k = used, i = frames; k > 0; k--) {
    const j = (cut[k] as number[])[i] as number;
    shares.unshift({ from: j, to: i });
    i = j;
  }
  return shares;
}

/**
 * How many of a tick's frames (a prefix, oldest block first) a lane whose last frame is `to − 1`
 * attends to: under causal attention up to the end of that frame's block (a block sees its own
 * frames and older blocks'), so the lanes holding older blocks read and compute fewer keys;
 * bidirectional: all of them.
 *
 * @example
 * ```ts
 * keyFramesOf(8, 15, 3, 'causal'); // 9: frames of blocks 0–2
 * keyFramesOf(8, 15, 3, 'bidirectional'); // 15
 * ```
 */
export function keyFramesOf(to: number, total: number, framesPerBlock: number, attention: AttentionMode): number {
  return attention === 'causal' ? Math.min(total, Math.ceil(to / framesPerBlock) * framesPerBlock) : total;
}

/**
 * The work of attending to one more key frame, relative to the rest of a query frame's work in a
 * layer: per token the projections and the MLP cost about 12·width² multiply-adds, attention
 * 2·width per key token, so one key frame adds `tokensPerFrame / (6 · width)`. It only moves
 * share boundaries.
 *
 * @example
 * ```ts
 * keyFrameWorkOf({ tokensPerFrame: 64, width: 384 }); // ≈ 0.028
 * ```
 */
export function keyFrameWorkOf(m: { readonly tokensPerFrame: number; readonly width: number }): number {
  return m.tokensPerFrame / (6 * m.width);
}

/**
 * The shares of a tick over `lanes` lanes: equal frame counts when every lane's frames cost the
 * same per frame; otherwise balanced by estimated work, counting reusing frames as
 * {@link REUSED_FRAME_WORK} and the keys at `keyFrameWork` each: under the trained window each
 * frame's own keys (its block's window, which the lane's key groups compute alone), else under
 * causal attention each lane's keys (the past and the tick frames up to the end of its last
 * block).
 *
 * @example
 * ```ts
 * shareTick(plan, 2, 3, keyFrameWorkOf(manifest)); // P4 causal, 15 frames: [0, 8) and [8, 15) or so
 * ```
 */
export function shareTick(
  plan: { readonly members: readonly Pick<TickMember, 'features' | 'positions'>[]; readonly pastSlots: readonly number[]; readonly attention: AttentionMode; readonly window?: TickWindow },
  lanes: number,
  framesPerBlock: number,
  keyFrameWork: number,
): { from: number; to: number }[] {
  const total = plan.members.length * framesPerBlock;
  if (plan.members.some((m) => m.features === 'decide')) {
    // A block that decides after its first layer compares that layer's output over all its
    // tokens, so no block is split: whole blocks per lane, by count.
    return shareFrames(plan.members.length, lanes).map((s) => ({ from: s.from * framesPerBlock, to: s.to * framesPerBlock }));
  }
  const reusing = plan.members.some((m) => m.features === 'reuse');
  const work = plan.members.flatMap((m) => Array.from({ length: framesPerBlock }, () => (m.features === 'reuse' ? REUSED_FRAME_WORK : 1)));
  if (plan.window && keyFrameWork > 0) {
    const spec = { attention: plan.attention, framesPerBlock, pastFrames: plan.pastSlots.length, keyFrames: total, positions: plan.members.map((m) => m.positions), window: plan.window };
    const keys = plan.members.map((_, member) => groupKeyFrames(keyGroups([{ member, rows: { from: 0, to: framesPerBlock } }], spec)[0] as KeyGroup));
    return shareFramesByWork(work.map((w, f) => w * (1 + keyFrameWork * (keys[Math.floor(f / framesPerBlock)] as number))), lanes);
  }
  if (plan.attention !== 'causal' || keyFrameWork === 0) return reusing ? shareFramesByWork(work, lanes) : shareFrames(total, lanes);
  const prefix = prefixSums(work);
  const past = plan.pastSlots.length;
  return shareFramesByCost(total, lanes, (from, to) => ((prefix[to] as number) - (prefix[from] as number)) * (1 + keyFrameWork * (past + keyFramesOf(to, total, framesPerBlock, 'causal'))));
}

/** Timing of a lanes tick, with the time lanes waited for each other at layer barriers. */
export interface LanesTickTiming extends TickTiming {
  readonly exchangeWaitMs: number;
}

/** What a tick through the layered graphs needs besides its plan. */
export interface SharedTickContext {
  readonly schedule: Schedule;
  readonly exchange: ExchangeSlab;
  readonly framesPerBlock: number;
  /** Block-wise feature caching's store, or null (no member may reuse). */
  readonly featureStore: FeatureStore | null;
  /** The generation's memory set (the exchange above is that set's). Default 0. */
  readonly memory?: number;
  /** {@link keyFrameWorkOf} the model: balances causal ticks by their keys (0 or absent: by frames). */
  readonly keyFrameWork?: number;
}

/**
 * Runs one tick through the layered graphs, its frames in equal contiguous shares over `lanes`
 * (one lane: a single-lane layered forward), and gathers the feature cache's indicators.
 *
 * @example
 * ```ts
 * const timing = await runSharedTick(plan, [lane], { schedule, exchange, framesPerBlock: 3, featureStore: null });
 * ```
 */
export async function runSharedTick(plan: TickPlan, lanes: readonly Lane[], context: SharedTickContext): Promise<LanesTickTiming> {
  const call = tickCall(plan, context.schedule, context.memory ?? 0);
  const total = plan.members.length * context.framesPerBlock;
  const shares = shareTick(plan, Math.min(lanes.length, MAX_EXCHANGE_LANES), context.framesPerBlock, context.keyFrameWork ?? 0);
  // Every lane of the previous tick has returned: nobody is inside the exchange now (the
  // exchange is this generation's own: concurrent sessions each have their memory set's).
  resetExchange(context.exchange);
  // Every share is queued on its lane in this one synchronous step, with no await between: each
  // lane's queue then holds concurrent sessions' multi-lane ticks in the same order, so no two
  // ticks can each hold one lane while waiting at their barrier for the other (docs/serving.md).
  const results = await Promise.all(
    shares.map((frames, i) => {
      const keyFrames = keyFramesOf(frames.to, total, context.framesPerBlock, plan.attention);
      return (lanes[i] as Lane).share({
        kind: 'share',
        ...call,
        tick: plan.tick,
        frames,
        lanes: shares.length,
        lane: i,
        keyFrames,
        waitFor: shares.filter((s) => s.from < keyFrames).length,
        ...(context.featureStore ? { featureStore: context.featureStore } : {}),
      });
    }),
  );
  const sum = (f: (r: ShareResult) => number) => results.reduce((total, r) => total + f(r), 0);
  const timing = {
    forwards: plan.members.length,
    calls: results.length,
    runMs: sum((r) => r.runMs),
    workerMs: sum((r) => r.workerMs),
    // Summed like runMs, so that task − run is the lanes' own cost (waits included), as in joint ticks.
    taskMs: results.reduce((total, r) => total + r.taskMs, 0),
    exchangeWaitMs: sum((r) => r.exchangeWaitMs),
  };
  if (!context.featureStore) return timing;
  const decided = decidedIn(results);
  return {
    ...timing,
    reused: plan.members.filter((m) => featureOutcome(m, { decided }) === 'reuse' && m.commit !== false).length,
    indicators: indicatorsOf(results),
    featureMs: sum((r) => r.featureMs ?? 0),
    ...(decided.size > 0 ? { decided } : {}),
  };
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
    private readonly featureStore: FeatureStore | null = null,
    /** The generation's memory set (`ExecutorContext.memory`). */
    private readonly memory = 0,
    /** `ExecutorContext.keyFrameWork`. */
    private readonly keyFrameWork = 0,
  ) {}

  async run(plan: TickPlan): Promise<LanesTickTiming> {
    const reusing = plan.members.find((m) => m.features === 'reuse' || m.features === 'decide');
    if (reusing && !this.featureStore) throw new Error(`tick ${plan.tick}: block ${reusing.block} asks to reuse cached features, but this generation has no feature cache`);
    return runSharedTick(plan, inService(this.lanes), { schedule: this.schedule, exchange: this.exchange, framesPerBlock: this.framesPerBlock, featureStore: this.featureStore, memory: this.memory, keyFrameWork: this.keyFrameWork });
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return recacheOn(inService(this.lanes)[0] as Lane, plan, this.schedule, this.memory);
  }
}

/**
 * `lanes`: a tick's frames in equal contiguous shares over the lanes, K/V exchanged at every
 * layer. Needs two lanes and the layered graphs; reuses features (block-wise feature caching),
 * each lane for its share of a reusing block. Simulated cost: the busiest lane's share in
 * blocks times forwardMs, plus one exchange per layer when more than one lane is busy.
 */
export const lanes: ExecutorKind = {
  name: 'lanes',
  description: 'a tick spread over two or more lanes with per-layer K/V exchange',
  needs: { minLanes: 2, layered: true, reusesFeatures: true },
  exact: true,
  create: (context) => new LanesExecutor(context.schedule, context.lanes, context.exchange, context.framesPerBlock, context.featureStore ?? null, context.memory ?? 0, context.keyFrameWork ?? 0),
  cost: (plan, model) => {
    if (model.lanes === 1) return joint.cost(plan, model);
    const perBlock = model.latentFramesPerBlock;
    const shares = shareFrames(plan.members.length * perBlock, model.lanes);
    const busiest = Math.max(...shares.map((s) => s.to - s.from)) / perBlock;
    return model.forwardMs * busiest + (shares.length > 1 ? model.exchangeMs * model.layers : 0);
  },
};
