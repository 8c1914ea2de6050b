import type { LaneOptions } from '../../core/domain.js';
import type { ModelManifest } from '../../core/manifest-types.js';
import type { KvSlabs } from '../kv/kv-slabs.js';
import type { SlotSlab } from '../memory/slot-slab.js';
import type { ExchangeSlab } from './exchange.js';
import type { OnnxLogLevel } from './execution-provider.js';
import type { LaneFaults } from './faults.js';

/** Everything a lane worker needs, passed once as `workerData`. */
export interface LaneWorkerData {
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
  /** Per-layer K/V exchange between the lanes of a tick (`lanes` execution). */
  readonly exchange: ExchangeSlab;
  readonly kv: KvSlabs;
  readonly latents: SlotSlab;
  /** Where a tick's sampler steps land until the tick succeeds (`SharedMemory.latentSteps`). */
  readonly latentSteps: SlotSlab;
  /** One slot per KV slot: the clean latent of the frame whose K/V that slot holds (for re-cache). */
  readonly cleanLatents: SlotSlab;
  readonly contexts: SlotSlab;
  /** False when lanes share cores: spinning intra-op threads would steal them from each other. */
  readonly allowSpinning: boolean;
  /** How loud ONNX Runtime's own log is (default `error`). */
  readonly onnxLogLevel?: OnnxLogLevel;
  /** Crash-recovery tests only: where this lane's worker kills itself (`faults.ts`). */
  readonly faults?: LaneFaults;
}
