/**
 * A tick: every in-flight block's next forward, run together.
 *
 * In a cascade the in-flight blocks attend to each other's same-tick tokens, so their forwards
 * cannot run independently: they form one joint call (or one call per lane with K/V exchanged
 * at every layer). A {@link TickPlan} is the unit of work handed to a {@link TickExecutor}.
 */
import type { StageIndex } from './domain.js';
import type { AttentionMode, CascadeWindow, SwitchMode } from './cascade-options.js';
import type { MemberIndicator } from './feature-cache.js';

/**
 * Whether a tick member runs its layers (`compute`) or reuses features cached at an earlier step
 * (`reuse`, block-wise feature caching), or runs its first layer and lets the lane choose from
 * that layer's output (`decide`: first-block caching, `fbcache`). The K/V write pass (the cache
 * step) always computes.
 */
export type FeatureUse = 'compute' | 'reuse' | 'decide';

/** What a member did with its layers: `decide` becomes `compute` or `reuse` once its lane chose. */
export function featureOutcome(member: Pick<TickMember, 'block' | 'features'>, timing: Pick<TickTiming, 'decided'>): 'compute' | 'reuse' {
  return member.features === 'decide' ? (timing.decided?.get(member.block) ?? 'compute') : member.features;
}

/** One block's part of a tick: handles only, no tensors. */
export interface TickMember {
  readonly block: number;
  readonly stage: StageIndex;
  /** Per-member input of the tick: compute the layer stack or reuse cached features. */
  readonly features: FeatureUse;
  readonly seed: number;
  readonly latentSlot: number;
  readonly contextSlot: number;
  /** Absolute positions of the block's frames. */
  readonly positions: readonly number[];
  /**
   * `false`: the member is context only. Its frames take part in the forward (others attend to
   * them) but nothing it computes is kept: no sampler step, no cache K/V, no feature or stale
   * store write. Used to run one tick under each of its prompts (`core/prompt-groups.ts`).
   */
  readonly commit?: boolean;
  /**
   * `false`: a computing member stores no layer inputs and reports no indicator sums (its
   * policy needs none: bwcache once the block's schedule is fixed). Absent: it measures.
   */
  readonly measure?: boolean;
}

/**
 * The model's window applied inside a cascade (`cascadeWindow: 'trained'`): a block sees the
 * sink and the `frames` frames right before its own first frame, committed or still in flight,
 * as it would sequentially; older frames are hidden even when they are in the cache.
 */
export interface TickWindow {
  /** The model's `kv.windowFrames`. */
  readonly frames: number;
  /** The model's `kv.sinkFrames`: frames at positions below it stay visible. */
  readonly sinkFrames: number;
  /** Absolute position of each past frame (`TickPlan.pastSlots`), in the same order. */
  readonly pastPositions: readonly number[];
}

/**
 * Whether the trained window hides the key frame at `keyPosition` from a query of the block that
 * starts at `blockStart`.
 *
 * @example
 * ```ts
 * const window = { frames: 9, sinkFrames: 3, pastPositions: [] };
 * windowHides(window, 30, 20); // true: 10 frames before the block, outside its 9
 * windowHides(window, 30, 21); // false
 * windowHides(window, 30, 1); // false: the sink
 * ```
 */
export function windowHides(window: Pick<TickWindow, 'frames' | 'sinkFrames'>, blockStart: number, keyPosition: number): boolean {
  return keyPosition >= window.sinkFrames && keyPosition < blockStart - window.frames;
}

export interface TickPlan {
  /** Tick number (block · Δ + stage for each member, `core/schedule.ts`). */
  readonly tick: number;
  /** The blocks of this tick, oldest first. */
  readonly members: readonly TickMember[];
  readonly attention: AttentionMode;
  /** Committed KV slots every member attends to (sink ∪ window), in position order. */
  readonly pastSlots: readonly number[];
  /**
   * Names the contents of `pastSlots`: plans with the same key read the same K/V bytes, so a
   * lane may keep what it gathered for the last one (at P0 a block's five forwards share one
   * past). Absent: gather every time.
   */
  readonly pastKey?: string;
  /** The caching member's frames receive their K/V here, one slot per frame. */
  readonly cacheSlots: readonly number[] | null;
  /** `cascadeWindow: 'trained'` in a cascade: what each member sees of the past and of the others. Absent: everything. */
  readonly window?: TickWindow;
  /**
   * Member dispatch (`ExecutorNeeds.dispatch`): the plan holds one block, and these are the
   * older blocks of its tick whose K/V of this tick it attends to (already computed, in the
   * stale store's parity of the tick), oldest first.
   */
  readonly attendsTo?: readonly TickMember[];
}

/** Timings of one tick. */
export interface TickTiming {
  /** Denoiser forwards this tick stands for (one per member). */
  readonly forwards: number;
  /** Lane calls made (1 for a joint tick). */
  readonly calls: number;
  /** Milliseconds inside `session.run`, summed over lanes. */
  readonly runMs: number;
  /** Milliseconds inside the lane workers, summed over lanes. */
  readonly workerMs: number;
  /**
   * Milliseconds from handing the tick's calls to their lanes to their results, on the actor
   * thread, summed over lanes like `runMs` (so `taskMs − runMs` is the runtime's own cost,
   * barrier waits included).
   */
  readonly taskMs: number;
  /** `lanes` execution: milliseconds lanes waited at the per-layer K/V barriers, summed. */
  readonly exchangeWaitMs?: number;
  /** Feature caching: members that reused cached features (no layer evaluated for them). */
  readonly reused?: number;
  /** Of `reused`, those run in one call with their block's neighbouring reused steps (`RuntimeStats.reusedTogether`). */
  readonly reusedTogether?: number;
  /** Feature caching: what each `decide` member chose on its lane, by block. */
  readonly decided?: ReadonlyMap<number, 'compute' | 'reuse'>;
  /** Feature caching: the indicator of each computed denoising member past its first step. */
  readonly indicators?: readonly MemberIndicator[];
  /** Feature caching: milliseconds the lanes spent on it (indicator, stores, residuals), summed. */
  readonly featureMs?: number;
  /** The lane committed the tick's sampler steps itself (`AheadExecutor`): nothing is left to commit. */
  readonly committed?: boolean;
}

/**
 * A re-cache before the first block under a new prompt (sequential mode): the committed frames
 * (sink ∪ window) recomputed from their clean latents under `contextSlot`.
 */
export interface RecachePlan {
  /** The block about to start under the new prompt. */
  readonly beforeBlock: number;
  readonly contextSlot: number;
  /** Committed KV slots, in position order. */
  readonly slots: readonly number[];
  readonly positions: readonly number[];
  /** The block of each of those frames. */
  readonly blocks: readonly number[];
}

/**
 * What an execution mode needs of the runtime, declared by each registered executor and read by
 * the options resolver (`resolveGeneration`) before anything runs.
 */
export interface ExecutorNeeds {
  /** Fewest lanes the mode runs on. */
  readonly minLanes: number;
  /** Whether it runs the model's layered graphs (embed, one graph per layer, head). */
  readonly layered: boolean;
  /** Whether it can reuse cached features for a member (`features: 'reuse'`, block-wise feature caching). */
  readonly reusesFeatures: boolean;
  /** Settings a cascade (P1–P4) must have in this mode; the resolver refuses others. */
  readonly requires?: { readonly attention?: AttentionMode; readonly cascadeWindow?: CascadeWindow; readonly switchMode?: SwitchMode };
  /**
   * `member`: in a cascade the tick barrier hands the mode one block's forward at a time, each
   * as soon as what it attends to exists, so that a tick's older blocks and the next tick's
   * may run while its newer ones still wait (`wavefront`). Default `tick`: one plan per tick.
   */
  readonly dispatch?: 'tick' | 'member';
}

/** An execution mode as the options resolver sees it: a name, a sentence, its needs. */
export interface ExecutorInfo {
  readonly name: string;
  readonly description: string;
  readonly needs: ExecutorNeeds;
  /**
   * Whether the mode makes `joint`'s frames (up to float rounding). A mode that trades exactness
   * for speed (`stale`) says false, and its quality is measured, not assumed.
   */
  readonly exact: boolean;
}

/** Runs ticks: on real lanes, or on a virtual clock in the simulator. */
export interface TickExecutor {
  run(plan: TickPlan): Promise<TickTiming>;
  /** One forward over the cached frames under a new prompt; their K/V are replaced in place. */
  recache(plan: RecachePlan): Promise<TickTiming>;
}
