/**
 * Messages between the actor thread and a lane worker.
 *
 * They carry handles (slot indices, positions, scalars), never tensors: latents, prompt
 * contexts and K/V live in SharedArrayBuffer slabs that both sides map. The one exception is
 * a decode's RGB output, which leaves the worker by structured clone because it is the
 * product the caller asked for.
 */
import type { Stage, StageIndex } from '../core/domain.js';
import type { FeatureUse, TickWindow } from '../core/tick.js';
import type { FeatureCacheSettings } from '../core/feature-cache.js';

/** Encode a prompt into a context slot. */
export interface EncodeTask {
  readonly kind: 'encode';
  /**
   * The memory set (index into the lane's `memories`, one per concurrent session) whose slabs
   * the task reads and writes; 0 when absent.
   */
  readonly memory?: number;
  /** Token ids of the prompt, `maxTokens` long. */
  readonly tokens: readonly number[];
  readonly contextSlot: number;
}

/** One block's part of a joint tick, with its sampler step resolved. */
export interface TickMemberTask {
  readonly block: number;
  readonly stage: StageIndex;
  /** The stage's name (`t3`, `cache`), for error messages. */
  readonly stageName: Stage;
  readonly seed: number;
  readonly latentSlot: number;
  /** Absolute frame positions of the block's frames. */
  readonly positions: readonly number[];
  /** Model timestep of the block's frames (0 for the cache step). */
  readonly timestep: number;
  /** Noise level of the input (0 for the cache step). */
  readonly sigma: number;
  /** Noise level after this step; 0 after the last denoising step. */
  readonly sigmaNext: number;
  /** The cache step: only the block's clean K/V are kept, its flow is discarded. */
  readonly cache: boolean;
  /** Run the layer stack (`compute`, the default) or reuse the block's cached features (`reuse`). */
  readonly features?: FeatureUse;
  /** `false`: context only, nothing it computes is kept (`TickMember.commit`). */
  readonly commit?: boolean;
  /** `false`: a computing member stores no layer inputs and reports no indicator sums (`TickMember.measure`). */
  readonly measure?: boolean;
  /** Model timestep of the block's next denoising step; absent at its last one and the cache step. */
  readonly nextTimestep?: number;
}

/**
 * One joint forward over every block of a tick (one block when sequential): blocks joined
 * along the frame axis, per-frame timesteps, the caching block at t = 0 in the same call.
 */
export interface TickTask {
  readonly kind: 'tick';
  /**
   * The memory set (index into the lane's `memories`, one per concurrent session) whose slabs
   * the task reads and writes; 0 when absent.
   */
  readonly memory?: number;
  /** Oldest block first. */
  readonly members: readonly TickMemberTask[];
  readonly contextSlot: number;
  readonly attention: 'causal' | 'bidirectional';
  /** KV slots every member attends to, in position order. */
  readonly pastSlots: readonly number[];
  /** Names their contents (`TickPlan.pastKey`): the lane reuses its last gather for the same key. */
  readonly pastKey?: string;
  /** The caching member's K/V go here, one slot per frame; null when no member caches. */
  readonly cacheSlots: readonly number[] | null;
  /** The trained window (`TickPlan.window`); absent: every member sees the whole past and (under its attention mode) the others. */
  readonly window?: TickWindow;
}

/**
 * A sequential block's denoising steps run back to back on one lane (`engine/executors/
 * ahead.ts`): `steps` are the block's one-member tasks, stage 0 first, all known before the
 * first runs (P0: same block, prompt and past throughout). The worker commits each step's
 * latents itself and reports it in `progress` before starting the next, so the actor thread
 * follows the block's stages without the lane waiting for it between them. With feature
 * caching the steps are `share` tasks, and the lane decides each one's compute or reuse with
 * `policy`, from the indicators of the block's earlier steps, as the actor thread's policy will
 * from the same indicators.
 */
export interface AheadTask {
  readonly kind: 'ahead';
  readonly memory?: number;
  readonly steps: readonly TickTask[] | readonly ShareTask[];
  /** With `share` steps: the generation's feature-cache settings and step count. */
  readonly policy?: { readonly settings: FeatureCacheSettings; readonly steps: number };
  /**
   * Shared: Int32 [0] steps done, [1] stop before the next step: {@link AHEAD_CANCEL} (the
   * generation is ending) or {@link AHEAD_YIELD} (the lane has a higher-priority session's task
   * waiting; the block's other steps then go to the lane one by one), [2] 1 once
   * `decode` has written its frames, [3] 1 once `cache` has written its K/V; then, from byte 16,
   * Float64 per step ({@link AHEAD_STEP_FLOATS}): runMs, workerMs, endedAt (`performance.timeOrigin
   * + performance.now()` on the worker, comparable across threads), featureMs, 1 if it reused (2
   * if in one call with the block's neighbouring reused steps, `reuse-run.ts`),
   * then the indicator's five figures as (present, value) pairs: indicator, firstInput,
   * firstResidual, residual, nextInput (present: 0 absent, 1 null, 2 a number); then the decode's runMs,
   * workerMs; then the cache step's runMs, workerMs, endedAt.
   */
  readonly progress: SharedArrayBuffer;
  /**
   * After the last step (and the decode), the block's cache step (a one-member tick at t = 0, without slots): its
   * present K/V go to `key`/`value` (`[layers, 1, heads, tokens, headDim]`), for the actor thread
   * to write into the slots the KV pool reserves when the block reaches its cache stage. A
   * `share` task (feature caching) runs through the fused forward, as the block's cache tick would.
   */
  readonly cache?: { readonly task: TickTask | ShareTask; readonly key: SharedArrayBuffer; readonly value: SharedArrayBuffer };
  /** After the last step, decode the block into `rgb` (its frames' RGB bytes), as a decode task would. */
  readonly decode?: { readonly task: DecodeTask; readonly rgb: SharedArrayBuffer };
}

/** `AheadTask.progress[1]`: the generation is ending. */
export const AHEAD_CANCEL = 1;
/** `AheadTask.progress[1]`: a higher-priority session waits for the lane (`SessionOptions.priority`). */
export const AHEAD_YIELD = 2;

/** Float64 values after the steps' in `AheadTask.progress`: the decode's two, the cache step's three. */
export const AHEAD_TAIL_FLOATS = 5;

/** Float64 values per step in `AheadTask.progress`. */
export const AHEAD_STEP_FLOATS = 15;

/**
 * Joint ticks of several sessions (each its own memory set), of equal shapes (blocks and past
 * length), run as one call along the batch axis (cross-session batching, `Lane`). Not a
 * `LaneTask`: the lane forms it from queued ticks; observers and traces see the ticks.
 */
export interface BatchTask {
  readonly kind: 'batch';
  readonly ticks: readonly TickTask[];
}

/** A batch's timing, and each tick's share of it (in `ticks` order). */
export interface BatchResult extends LaneTiming {
  readonly items: readonly LaneTiming[];
}

/**
 * A lane's share of a tick in `lanes` mode: the tick's frames [from, to) (global frame indices,
 * oldest block first), run through the layered model with the K/V of every layer exchanged
 * with the tick's other lanes through shared memory.
 */
export interface ShareTask extends Omit<TickTask, 'kind'> {
  readonly kind: 'share';
  readonly tick: number;
  readonly frames: { readonly from: number; readonly to: number };
  /** Lanes taking part in this tick. */
  readonly lanes: number;
  /** This share's lane among them (0 holds the oldest frames). */
  readonly lane: number;
  /**
   * The tick frames (a prefix, oldest block first) whose K/V this lane attends to: all of them
   * under bidirectional attention, up to the end of its last block under causal.
   */
  readonly keyFrames: number;
  /** Lanes `0 … waitFor − 1` hold those frames: at every layer this lane waits for them only. */
  readonly waitFor: number;
  /**
   * Block-wise feature caching is on: the shared store of each in-flight block's layer inputs,
   * residual and K/V at its last computed step (`engine/lanes/feature-store.ts`), one slot per
   * latent slot. Absent: no member reuses and nothing is stored.
   */
  readonly featureStore?: FeatureStore;
  /**
   * A cache step run ahead (`AheadTask.cache`), whose slots are not reserved yet: its present
   * K/V are copied here instead (`[layers, 1, heads, tokens, headDim]`). Fused forward only.
   */
  readonly presentTo?: { readonly key: SharedArrayBuffer; readonly value: SharedArrayBuffer };
}

/**
 * Block-wise feature caching's shared store (`engine/lanes/feature-store.ts`, allocated by the
 * memory plan): per latent slot, two halves and a parity word naming the committed one.
 */
export interface FeatureStore {
  readonly buffer: SharedArrayBuffer;
  /** The slots' other halves (same layout as `buffer`). */
  readonly steps: SharedArrayBuffer;
  /** Int32 per slot: which half is committed (0: `buffer`, 1: `steps`). */
  readonly parity: SharedArrayBuffer;
  readonly slots: number;
  /** Floats per slot. */
  readonly slotLength: number;
  /** What the workers measure beyond bwcache's sums (`FeatureTracking`, core/feature-cache.ts). */
  readonly track?: 'first-input' | 'first-residual';
  /**
   * Computing members store their K/V (default true). Only a reusing member read alongside
   * other members needs them (a cascade, parallelism ≥ 1); at parallelism 0 a block is alone
   * in its ticks, so a generation sets false and the K/V regions are neither written nor read.
   */
  readonly keepKeyValues?: boolean;
  /**
   * `decide` members (fbcache): reuse when layer 0's output residual changed less than this,
   * relative to the block's last computed step (Σ|r − last| ÷ Σ|last| over the block's tokens).
   */
  readonly decideBelow?: number;
}

/**
 * What a lane measured of one computed member for the feature cache: per layer, Σ|x − last| and
 * Σ|last| over the member's tokens on this lane (x: the layer's input now, last: at the block's
 * previous computed step). Lanes' sums add up; the indicator is the mean over layers of their
 * ratio (`indicatorOf`).
 */
export interface MemberFeatureSums {
  readonly block: number;
  readonly stage: number;
  readonly change: readonly number[];
  readonly base: readonly number[];
  /** With `track`: layer 0's output residual, Σ|r − last| and Σ|last| (`first-residual`). */
  readonly firstResidual?: readonly [number, number];
  /** With `track`: the whole stack's residual, Σ|r − last| and Σ|last|. */
  readonly residual?: readonly [number, number];
  /** A reusing member (`first-input`): `change`, `base` hold layer 0's sums only. */
  readonly reused?: boolean;
  /**
   * `first-input`: the next step's layer-0 input (the embedding of the latents this step made)
   * against this step's, Σ|next − now| and Σ|now|, so that teacache decides the next step on
   * its own input change (`engine/lanes/next-inputs.ts`).
   */
  readonly nextInput?: readonly [number, number];
  /** A `decide` member (fbcache): what it did after its first layer. */
  readonly decided?: 'compute' | 'reuse';
}

/**
 * A lane's share of a tick in `stale` execution: its frames [from, to) in one monolithic
 * forward, the tick's other frames seen through their K/V of the tick before (kept in `store`).
 * In `wavefront` execution (`read: 'same'`) the frames are one block's, the other members are
 * older blocks of the same tick, and their K/V are those of this tick, already in `store`.
 */
export interface StaleTask extends Omit<TickTask, 'kind'> {
  readonly kind: 'stale';
  readonly tick: number;
  readonly frames: { readonly from: number; readonly to: number };
  /** The stale store's slabs (`engine/lanes/stale-store.ts`): handles to shared memory. */
  readonly store: StaleStoreHandles;
  /** Whose K/V the other frames are: the tick before's (`previous`, the default) or this tick's (`same`, which must be there). */
  readonly read?: 'previous' | 'same';
}

/** The shared memory of the stale exchange, as a task carries it (a K/V slab and its stamps). */
export interface StaleStoreHandles {
  readonly kv: {
    readonly layout: { readonly capacitySlots: number; readonly layers: number; readonly heads: number; readonly tokensPerFrame: number; readonly headDim: number };
    readonly keys: SharedArrayBuffer;
    readonly values: SharedArrayBuffer;
  };
  readonly stamps: SharedArrayBuffer;
  readonly latentSlots: number;
  readonly framesPerBlock: number;
}

/**
 * Re-cache after a prompt switch (sequential mode, like LongLive): one forward over the clean
 * latents of the cached frames at the cache step's timestep under the new prompt, block-causal
 * among them and with no past, whose K/V replace those frames' K/V in place.
 */
export interface RecacheTask {
  readonly kind: 'recache';
  /**
   * The memory set (index into the lane's `memories`, one per concurrent session) whose slabs
   * the task reads and writes; 0 when absent.
   */
  readonly memory?: number;
  /** The new prompt. */
  readonly contextSlot: number;
  /** The cached frames' KV slots, in position order; each also names the frame's clean latent. */
  readonly slots: readonly number[];
  /** Absolute positions of those frames. */
  readonly positions: readonly number[];
  /** The block each frame belongs to (frames of one block see each other). */
  readonly blocks: readonly number[];
  /** Model timestep of a clean frame (the cache step's). */
  readonly timestep: number;
}

/** Decode a block's final latents into RGB frames. */
export interface DecodeTask {
  readonly kind: 'decode';
  /**
   * The memory set (index into the lane's `memories`, one per concurrent session) whose slabs
   * the task reads and writes; 0 when absent.
   */
  readonly memory?: number;
  readonly block: number;
  readonly latentSlot: number;
}

/** Answers once the worker has loaded its sessions (and, with `warm`, run each once). */
export interface PingTask {
  readonly kind: 'ping';
  /** Run every session once on zero inputs of generation's shapes before answering. */
  readonly warm: boolean;
  /** Also load and warm the layered graphs (lanes that may take part in a `lanes` tick). */
  readonly layered: boolean;
  /** Blocks a tick may hold (the warm-up's largest joint forward). */
  readonly inFlightBlocks: number;
}

export type LaneTask = PingTask | EncodeTask | TickTask | AheadTask | ShareTask | StaleTask | RecacheTask | DecodeTask;

/** What every task reports back: timings only. */
export interface LaneTiming {
  /** Milliseconds inside `session.run`. */
  readonly runMs: number;
  /** Milliseconds of the whole task inside the worker. */
  readonly workerMs: number;
}

export interface ShareResult extends LaneTiming {
  /** Milliseconds this lane waited for the others at the per-layer barriers. */
  readonly exchangeWaitMs: number;
  /** The same, layer by layer (for traces); empty for a fused share, which has no barrier. */
  readonly layerWaitsMs: readonly number[];
  /** Feature caching: the sums of each computed denoising member past its first step. */
  readonly featureSums?: readonly MemberFeatureSums[];
  /** Feature caching: milliseconds spent on the indicator, the stores and the residuals. */
  readonly featureMs?: number;
}

export interface DecodeResult extends LaneTiming {
  /** `framesPerBlock · height · width · 3` RGB bytes, frame-major. */
  readonly rgb: Uint8Array;
}
