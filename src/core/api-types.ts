import type { BlockIndex, LaneOptions } from './domain.js';
import type { CascadeOptions } from './cascade-options.js';
import type { FeatureCacheOptions } from './feature-cache.js';
import type { TraceRecord } from './trace-records.js';

/** One decoded RGB video frame. */
export interface Frame {
  /** The block this frame belongs to. */
  readonly block: BlockIndex;
  /** Frame index in the whole video, 0-based. */
  readonly index: number;
  readonly width: number;
  readonly height: number;
  /** Interleaved RGB bytes, row-major, `width · height · 3` long. */
  readonly rgb: Uint8Array;
}

/** What to generate. */
export interface GenerateRequest {
  /** Noise seed (a non-negative safe integer). The same seed gives the same frames. */
  readonly seed: number;
  /** Number of blocks to generate. */
  readonly blocks: number;
  /** Text prompt (of the first block, and of every block until the first switch). */
  readonly prompt: string;
  /**
   * Scheduled prompt switches, by block (at most 7, `atBlock` increasing, inside the video).
   * Block `atBlock` and later blocks are admitted under the new prompt; in a cascade the blocks
   * already in flight keep theirs (`switchMode: 'at-block'`, the default) or follow the new
   * prompt from their next step (`'in-flight'`). Neither re-caches.
   */
  readonly switches?: readonly PromptSwitch[];
}

/**
 * A scheduled prompt switch.
 *
 * @example
 * ```ts
 * runtime.generate({ seed: 1, blocks: 8, prompt: 'red ball moving left', switches: [{ atBlock: 4, prompt: 'blue ball moving up' }] });
 * ```
 */
export interface PromptSwitch {
  readonly atBlock: number;
  readonly prompt: string;
}

/** Progress of one generation, reported after each decoded block. */
export interface Progress {
  readonly blocksDone: number;
  readonly blocksTotal: number;
  readonly framesDone: number;
  readonly elapsedMs: number;
  /** Frames per second so far. */
  readonly fps: number;
}

/** Options of {@link Runtime.generate}. */
export interface GenerateOptions {
  /** Aborts the generation; the frame iterator then throws an `AbortError`. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
  /** Block Cascading settings for this generation; override the runtime's. */
  readonly cascade?: Partial<CascadeOptions>;
  /** Denoising steps per block (default: the runtime's, else the model's sampler). */
  readonly steps?: number;
  /**
   * Block-wise feature caching for this generation (overrides the runtime's field by field):
   * `{ policy: 'bwcache', threshold?: 0.15, interval?: 3, lastStep?: 0.5 }`,
   * `{ policy: 'teacache', threshold?: 0.1, coefficients? }`, `{ policy: 'fbcache', threshold?: 0.1 }`
   * or `{ policy: 'none' }` (the default). See docs/caching.md.
   */
  readonly featureCache?: FeatureCacheOptions;
  /**
   * Receives this generation's trace records (docs/inspector.md): actor states and events,
   * lane activity, KV-pool occupancy, switches, frames. Small records, never tensors.
   */
  readonly trace?: (record: TraceRecord) => void;
  /**
   * Read words the model's vocabulary lacks as `<unk>` instead of refusing the prompt with an
   * `UnknownWordsError` (applies to the request's prompt, its switches and live switches).
   * Default false. A prompt over the model's token limit is refused either way.
   */
  readonly allowUnknownWords?: boolean;
  /**
   * Hand a snapshot of the generation's state to `onSnapshot` every `every` blocks (off by
   * default): taken between two ticks, once `every` more blocks have finished their cache step
   * (docs/snapshots.md). `onSnapshot` runs on the actor thread; keep it short (hand the bytes on).
   */
  readonly snapshots?: SnapshotOptions;
  /**
   * Resume from a snapshot's bytes: the generation produces the frames from `snapshot.firstFrame`
   * on (frame.index stays absolute), identical to the uninterrupted run's. The request must be
   * the one the snapshot was taken of (its `switches` from the snapshot's block on apply as
   * usual); progress and `block` events count from the resumed block.
   */
  readonly resumeFrom?: Uint8Array;
}

/**
 * When a generation hands out snapshots, and to whom (docs/snapshots.md).
 *
 * @example
 * ```ts
 * // Every block, each holding only the K/V rows the stored ones lack.
 * const stored = new Set<number>();
 * const snapshots: SnapshotOptions = {
 *   every: 1,
 *   onSnapshot: (s) => void store.put(s).then(() => stored.add(s.seq)),
 *   incremental: { kept: (seq) => stored.has(seq) },
 * };
 * ```
 */
export interface SnapshotOptions {
  /** Blocks between snapshots: one is taken once `every` more blocks have finished their cache step. */
  readonly every: number;
  /** Receives each snapshot on the actor thread; keep it short (hand the bytes on). */
  readonly onSnapshot: (snapshot: GenerationSnapshot) => void;
  /**
   * Incremental snapshots: a committed frame whose K/V rows an earlier snapshot of this generation
   * holds unchanged is referred to instead of copied, when `kept(seq)` says that snapshot is still
   * kept (stored, not deleted). Such a snapshot resumes only merged with the ones it refers to
   * (`GenerationSnapshot.requires`, `mergeSnapshots`). Off by default: each snapshot stands alone.
   */
  readonly incremental?: { readonly kept: (seq: number) => boolean };
  /**
   * K/V keyframes (with `incremental`, at parallelism 0): a snapshot holds K/V rows only when
   * `keyframeEvery` or more blocks have been cached since the last one that did (a keyframe);
   * those between hold, instead, the final latents of the blocks cached since, and refer to the
   * keyframe for the K/V. A resume from one runs those blocks' cache steps again, one forward
   * each, which at parallelism 0 writes the same K/V bytes as the run. Off (every snapshot a
   * keyframe) by default and at parallelism above 0. A prompt re-cache since the keyframe makes
   * the next snapshot a keyframe.
   */
  readonly keyframeEvery?: number;
}

/**
 * A generation's state between two ticks, as {@link GenerateOptions.snapshots} hands it out:
 * enough to resume the generation on any runtime of the same model (`resumeFrom: bytes`).
 *
 * @example
 * ```ts
 * let last: GenerationSnapshot | null = null;
 * for await (const frame of runtime.generate(request, { snapshots: { every: 2, onSnapshot: (s) => (last = s) } })) show(frame);
 * // after a crash, elsewhere: the frames from last.firstFrame on, byte for byte
 * for await (const frame of runtime.generate(request, { resumeFrom: last!.bytes })) show(frame);
 * ```
 */
export interface GenerationSnapshot {
  /** First block the resumed generation produces (every block before it had been decoded when the snapshot was taken). */
  readonly block: number;
  /** = block * framesPerBlock. */
  readonly firstFrame: number;
  /** Its number among the generation's snapshots, from 0. */
  readonly seq: number;
  /**
   * The earlier snapshots (their `seq`) holding K/V rows this one refers to: empty unless
   * `incremental`; a resume needs them merged in (`mergeSnapshots`).
   */
  readonly requires: readonly number[];
  /** Blocks whose cache steps a resume from it runs again (`keyframeEvery`); 0 for a keyframe. */
  readonly replays: number;
  /** msgpack-encoded state (a versioned tensor frame of the project's codec, validated on decode). */
  readonly bytes: Uint8Array;
  /** Actor-thread milliseconds the capture took (copying slabs + encoding). */
  readonly captureMs: number;
}

/**
 * One step of loading a runtime, reported to {@link RuntimeOptions.onLoad}: each model file
 * found and checked (`stage: 'file'`), then each lane ready with its sessions (`stage: 'lane'`).
 * `done` of `total` counts the steps of that stage.
 *
 * @example
 * ```ts
 * await createRuntime({ lanes: 2, onLoad: (e) => console.log(e.stage, e.stage === 'file' ? e.file : e.lane, `${e.done}/${e.total}`) });
 * // file manifest 1/4 … file vaeDecoder 4/4, lane 0 1/2, lane 1 2/2 (lanes in the order they get ready)
 * ```
 */
export type LoadProgress =
  | {
      readonly stage: 'file';
      /** Which file of the package. */
      readonly file: 'manifest' | 'textEncoder' | 'denoiser' | 'vaeDecoder';
      /** Its absolute path. */
      readonly path: string;
      readonly done: number;
      readonly total: number;
    }
  | {
      readonly stage: 'lane';
      /** The lane now ready (its worker started, sessions loaded, warmed up if asked). */
      readonly lane: number;
      readonly done: number;
      readonly total: number;
    };

/** Options of `createRuntime`. */
export interface RuntimeOptions {
  /** Model package folder; defaults to the bundled trained `models/sprites`. */
  readonly model?: string;
  /** Number of CPU lanes (1 thread each) or explicit lane options. Default 1. */
  readonly lanes?: number | readonly LaneOptions[];
  /**
   * Block Cascading settings (default: sequential P0). `parallelism` 0..4 (lag Δ = 5 − P),
   * `attention` inside the cascade window, `exec` joint (one forward per tick) or lanes.
   */
  readonly cascade?: Partial<CascadeOptions>;
  /**
   * Denoising steps per block for every generation (default: the model's sampler, e.g. 4). At
   * N steps σ follows the model's sampler (shift, warp) on an even grid; the P levels keep
   * their meaning (Pk: at most k + 1 blocks in flight, lag ⌈(N + 1)(5 − k)/5⌉).
   */
  readonly steps?: number;
  /**
   * Block-wise feature caching for every generation (default `{ policy: 'none' }`); a policy
   * other than none runs ticks through a mode that reuses features (`layered` unless `exec` says
   * `lanes`). See docs/caching.md.
   */
  readonly featureCache?: FeatureCacheOptions;
  /**
   * Run every lane's sessions once on zero inputs before `createRuntime` resolves, so that the
   * first frame does not pay for onnxruntime's first-run set-up. Default true.
   */
  readonly warmUp?: boolean;
  /**
   * Called as loading progresses: once per model file, then once per lane as it gets ready
   * (see {@link LoadProgress}). A throwing callback fails `createRuntime`.
   */
  readonly onLoad?: (progress: LoadProgress) => void;
  /**
   * How loud ONNX Runtime's own log (stderr) is: `verbose`, `info`, `warning`, `error` or
   * `fatal`. Default: the `BLOCK_CASCADE_ONNX_LOG_LEVEL` environment variable, else `error`.
   * Failures are thrown as errors whatever the level.
   */
  readonly onnxLogLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /**
   * Generations (`generate` or `session`) that run at once, each on its own memory set from the
   * memory plan, all sharing the lanes. Default: 2 × lanes, lowered so that the sets fit in a
   * quarter of the machine's memory (`defaultMaxSessions`, docs/serving.md); at least 1.
   */
  readonly maxSessions?: number;
  /**
   * Generations that may wait for a memory set once `maxSessions` run (default 8; 0: none wait).
   * Beyond them a generation fails with `RuntimeBusyError` when its iteration starts.
   */
  readonly maxQueuedSessions?: number;
  /**
   * Cross-session batching (default `false`): joint ticks of different sessions that wait on the
   * same lane and have the same shape (blocks in the tick, past length) run as one call along
   * the batch axis. Equal shapes need no padding, so every session's frames stay byte-identical
   * to the same session run alone. On CPU lanes it did not pay on the bundled model (a batch
   * costs about its items' sum, and it gathers work on one lane while another idles;
   * docs/serving.md); it is meant for devices where a batch costs about one call.
   */
  readonly batchSessions?: boolean;
}

/** How long a runtime took to start. */
export interface RuntimeStartup {
  /** Milliseconds of `createRuntime`, from the call to the lanes being ready. */
  readonly createMs: number;
  /** Milliseconds the slowest lane spent warming its sessions (0 without warm-up). */
  readonly warmUpMs: number;
}

/** Counters of the work done so far, for benchmarks. */
export interface RuntimeStats {
  /** Ticks run: forwards run together (one per block at P0, up to five in a cascade). */
  readonly ticks: number;
  /** Denoiser forwards run (cache steps included). */
  readonly forwards: number;
  /** Total milliseconds spent inside `session.run` for those forwards. */
  readonly forwardRunMs: number;
  /** Milliseconds inside the decoder's `session.run` (one call per block decoded). */
  readonly decodeRunMs: number;
  /** Milliseconds inside the text encoder's `session.run` (one call per prompt). */
  readonly encodeRunMs: number;
  /** Total milliseconds of those forwards' tasks inside the lane workers (K/V gathers, copies, sampler included). */
  readonly forwardWorkerMs: number;
  /**
   * Total milliseconds from handing a forward to its (free) lane to receiving the result, on the
   * actor thread. Minus `forwardRunMs`, this is the runtime's own cost per forward: messages,
   * K/V gathers and scatters, copies into ONNX tensors, the sampler update.
   */
  readonly forwardTaskMs: number;
  /** `lanes` execution: total milliseconds lanes waited for each other at the per-layer K/V barriers. */
  readonly exchangeWaitMs: number;
  /**
   * Of `forwards`, those that reused cached features (block-wise feature caching): embedding and
   * head only, no layer evaluated (with `fbcache`, the first layer only). Computed forwards are
   * `forwards − reusedForwards`.
   */
  readonly reusedForwards: number;
  /**
   * Of `reusedForwards`, those run in one `session.run` together with their block's neighbouring
   * reused steps: at P0, once a block's bwcache schedule is fixed, consecutive reused steps run as
   * one call on their lane.
   */
  readonly reusedTogether: number;
  /** Milliseconds the lane workers spent on the feature cache (indicator, stores, residuals), summed. */
  readonly featureCacheMs: number;
  /** Re-caches run at prompt switches (sequential mode with `recache: 'on'`). */
  readonly recaches: number;
  /** Milliseconds from handing those re-caches to a lane to their results, summed. */
  readonly recacheTaskMs: number;
  /** Lane calls that carried the joint ticks of more than one session (`batchSessions`). */
  readonly batchedCalls: number;
}
