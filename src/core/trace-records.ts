/**
 * The trace format (`--trace FILE.jsonl`): one JSON object per line, small records only —
 * handles, names and milliseconds, never a tensor. `t` is milliseconds since the trace began
 * (the first record, `meta`, has t = 0). Readers ignore kinds they do not know.
 */
import type { AttentionMode, CascadeWindow, ExecMode, Parallelism, RecacheMode, SwitchMode } from './cascade-options.js';
import type { FeatureCacheSettings } from './feature-cache.js';

/** Version of the record shapes below; a reader refuses a trace of another version. */
export const TRACE_VERSION = 1;

/**
 * The generation a record belongs to (`MetaRecord.session`), on every record of a generation
 * that has an id: concurrent sessions writing into one sink can be told apart line by line.
 * Absent in traces recorded before it.
 */
export interface SessionTag {
  readonly session?: number;
}

/** First record: what was run. */
export interface MetaRecord {
  readonly kind: 'meta';
  readonly t: 0;
  readonly version: typeof TRACE_VERSION;
  /** `Date.now()` when the trace began, for humans. */
  readonly startedAt: number;
  /**
   * The generation's id on its runtime (from 1, in call order; `GenerationSession.id`): tells
   * apart the traces of sessions that ran at once. Absent in traces recorded before it.
   */
  readonly session?: number;
  readonly model: string;
  readonly lanes: number;
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
  readonly recache: RecacheMode;
  /** Which blocks a prompt switch reaches; absent in traces recorded before it was a setting (`in-flight`). */
  readonly switchMode?: SwitchMode;
  /** What earlier video a cascade block sees; absent in traces recorded before it was a setting (`extended`). */
  readonly cascadeWindow?: CascadeWindow;
  /** Denoising steps per block; absent in traces recorded before N-step schedules (4). */
  readonly steps?: number;
  /** Stages between the starts of consecutive blocks (Δ); absent in older traces (5 − P). */
  readonly lag?: number;
  /** Block-wise feature caching's settings; absent when the policy is `none`. */
  readonly featureCache?: FeatureCacheSettings;
  readonly seed: number;
  readonly blocks: number;
  readonly framesPerBlock: number;
  /** Slots of the KV pool. */
  readonly kvCapacity: number;
  /** The block machine's states in order, for drawing the state chart. */
  readonly blockStates: readonly string[];
}

/** An actor entered a state (from XState's inspection stream: only changes are recorded). */
export interface StateRecord extends SessionTag {
  readonly kind: 'state';
  readonly t: number;
  /** Actor id: `supervisor`, `kv-pool`, `block.<n>`. */
  readonly actor: string;
  /** The state value, flattened (`t2`, `running`). */
  readonly state: string;
}

/** An actor received an event (from XState's inspection stream; the type only, never a payload). */
export interface EventRecord extends SessionTag {
  readonly kind: 'event';
  readonly t: number;
  readonly actor: string;
  readonly event: string;
}

/** What a lane task was. */
export type LaneTaskKind = 'encode' | 'tick' | 'share' | 'recache' | 'decode';

/** A lane started or finished a task (start = the worker took it, end = its result arrived). */
export interface LaneRecord extends SessionTag {
  readonly kind: 'lane';
  readonly t: number;
  readonly lane: number;
  readonly phase: 'start' | 'end';
  readonly task: LaneTaskKind;
  /** Blocks the task works on (oldest first); empty for `encode`. */
  readonly blocks: readonly number[];
  /** Stage index (0 = t3 … 4 = cache) of each of `blocks`, for `tick` and `share`. */
  readonly stages: readonly number[];
  /** Tick number, for `tick` and `share`. */
  readonly tick?: number;
  /** `share` with feature caching: the blocks of `blocks` that reused cached features (no layer ran for them). */
  readonly reused?: readonly number[];
  /** `end` of a `share`: milliseconds this lane waited at the per-layer K/V barriers. */
  readonly exchangeWaitMs?: number;
  /** `end` of a `share`: the same wait, layer by layer (empty when the share ran fused: no barrier). */
  readonly layerWaitsMs?: readonly number[];
  /** `end`: milliseconds inside `session.run`. */
  readonly runMs?: number;
  /** `end` of a failed task. */
  readonly error?: string;
}

/** KV-pool occupancy after a change. */
export interface KvRecord extends SessionTag {
  readonly kind: 'kv';
  readonly t: number;
  readonly free: number;
  readonly reserved: number;
  readonly committed: number;
  /** Lowest and highest committed frame position (null when none). */
  readonly window: readonly [number, number] | null;
}

/** A prompt switch was requested (live) or is scheduled (from the request). */
export interface SwitchRecord extends SessionTag {
  readonly kind: 'switch';
  readonly t: number;
  readonly prompt: string;
  /** The first block under the new prompt. */
  readonly fromBlock: number;
  readonly live: boolean;
}

/** A re-cache ran before `beforeBlock` (sequential mode). */
export interface RecacheRecord extends SessionTag {
  readonly kind: 'recache';
  readonly t: number;
  readonly beforeBlock: number;
  readonly frames: number;
  readonly ms: number;
}

/** A block's frames were handed to the consumer. */
export interface FrameRecord extends SessionTag {
  readonly kind: 'frame';
  readonly t: number;
  readonly block: number;
  /** Index of the block's first frame in the video. */
  readonly firstFrame: number;
  readonly frames: number;
}

/**
 * Feature caching, after each tick: the indicator of each computed denoising member past its
 * first step (the mean over layers of the relative L1 change of the layer inputs since the
 * block's last computed step), and the step at which a block's schedule was fixed, if it was.
 */
export interface FeaturesRecord extends SessionTag {
  readonly kind: 'features';
  readonly t: number;
  readonly tick: number;
  readonly indicators: readonly {
    readonly block: number;
    readonly stage: number;
    readonly indicator: number | null;
    readonly trigger: number | null;
    /** Layer 0's input change (teacache: against the previous step, also for reusing members). */
    readonly firstInput?: number | null;
    /** fbcache: layer 0's output residual change against the last computed step. */
    readonly firstResidual?: number | null;
    /** teacache, fbcache: the layer stack's residual change against the last computed step. */
    readonly residual?: number | null;
    /** teacache: a reusing member (only its layer-0 input was measured). */
    readonly reused?: boolean;
  }[];
}

/** A snapshot was handed to `snapshots.onSnapshot` (docs/snapshots.md): its size and cost, no bytes. */
export interface SnapshotRecord extends SessionTag {
  readonly kind: 'snapshot';
  readonly t: number;
  /** The snapshot's first block (a resume produces it and every later one). */
  readonly block: number;
  /** Size of the snapshot's bytes. */
  readonly bytes: number;
  /** Actor-thread milliseconds of the capture (copying slabs + encoding). */
  readonly captureMs: number;
  /** Cache steps a resume from it runs again (between K/V keyframes); 0 or absent: it holds its K/V. */
  readonly replays?: number;
}

/** Last record of a generation. */
export interface EndRecord extends SessionTag {
  readonly kind: 'end';
  readonly t: number;
  readonly blocks: number;
  readonly outcome: 'finished' | 'stopped' | 'failed' | 'aborted';
  readonly error?: string;
}

export type TraceRecord = MetaRecord | StateRecord | EventRecord | LaneRecord | KvRecord | SwitchRecord | RecacheRecord | FrameRecord | FeaturesRecord | SnapshotRecord | EndRecord;
