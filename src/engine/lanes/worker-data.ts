import type { LaneOptions } from '../../core/domain.js';
import type { ModelManifest } from '../../core/manifest-types.js';
import type { KvSlabs } from '../kv/kv-slabs.js';
import type { SlotSlab } from '../memory/slot-slab.js';
import type { ExchangeSlab } from './exchange.js';
import type { OnnxLogLevel } from './execution-provider.js';
import type { LaneFaults } from './faults.js';

/** What a lane worker knows besides shared memory. */
export interface LaneCommon {
  readonly laneId: number;
  readonly lane: LaneOptions;
  readonly manifest: ModelManifest;
  /** Absolute paths of the ONNX files. */
  readonly files: {
    readonly denoiser: string;
    readonly textEncoder: string;
    readonly vaeDecoder: string;
    readonly layered: { readonly embed: string; readonly layers: readonly string[]; readonly keyValues: readonly string[]; readonly head: string };
  };
  /** False when lanes share cores: spinning intra-op threads would steal them from each other. */
  readonly allowSpinning: boolean;
  /**
   * False keeps feature-caching ticks on the layered chain instead of the fused forward and the
   * reuse graph (`fused-share.ts`, `fused-reuse.ts`): for A/B measurements and tests. Default true.
   */
  readonly fusedForward?: boolean;
  /** False runs consecutive reused steps one call each (`reuse-run.ts`): for A/B measurements and tests. Default true. */
  readonly reuseRuns?: boolean;
  /**
   * False runs each layer of a share as one masked call over every key gathered instead of one
   * call per key group (`key-groups.ts`): for A/B measurements and tests. Default true.
   */
  readonly groupKeys?: boolean;
  /** How loud ONNX Runtime's own log is (default `error`). */
  readonly onnxLogLevel?: OnnxLogLevel;
  /** Crash-recovery tests only: where this lane's worker kills itself (`faults.ts`). */
  readonly faults?: LaneFaults;
}

/** One memory set's slabs, as a lane worker maps them (`SharedMemory`). */
export interface LaneMemory {
  /** Per-layer K/V exchange between the lanes of a tick (`lanes` execution). */
  readonly exchange: ExchangeSlab;
  readonly kv: KvSlabs;
  readonly latents: SlotSlab;
  /** Where a tick's sampler steps land until the tick succeeds (`SharedMemory.latentSteps`). */
  readonly latentSteps: SlotSlab;
  /** One slot per KV slot: the clean latent of the frame whose K/V that slot holds (for re-cache). */
  readonly cleanLatents: SlotSlab;
  readonly contexts: SlotSlab;
}

/** What one task sees: the lane's own data and the slabs of the task's memory set. */
export type LaneWorkerData = LaneCommon & LaneMemory;

/**
 * Everything a lane worker needs, passed once as `workerData`: one memory set per session the
 * runtime may run at once (`maxSessions`); each task names its set (`memory`), and the worker
 * hands the task's code a {@link LaneWorkerData} of that set.
 */
export interface LaneWorkerInit extends LaneCommon {
  readonly memories: readonly LaneMemory[];
}
