import type { FeatureCacheSettings } from './feature-cache.js';

/**
 * Block Cascading settings: how many blocks denoise at once, what they see of each other, and
 * how their forwards are executed.
 */
/**
 * Parallelism level Pk: at most k + 1 blocks in flight (lag Δ = 5 − k stages at four steps, see
 * `lagFor`); P0 is sequential.
 */
export type Parallelism = 0 | 1 | 2 | 3 | 4;
/**
 * What in-flight blocks see of each other: `causal` (a block sees older in-flight blocks),
 * `bidirectional` (all in-flight blocks see each other; the paper's recommended mode).
 */
export type AttentionMode = 'causal' | 'bidirectional';
/**
 * How a tick's forwards run: the name of a registered executor (`src/engine/executors/`):
 * `joint` (all in-flight blocks in one forward on one lane) or `lanes` (their frames spread over
 * the lanes, K/V exchanged at every layer).
 */
export type ExecMode = string;

/**
 * What a prompt switch does to the KV cache in sequential mode: `on` re-caches like LongLive
 * (one forward over the cached frames' clean latents at t = 0 under the new prompt, before the
 * first block under it), `off` keeps the K/V made under the old prompt. Cascades never re-cache
 * (see {@link SwitchMode}).
 */
export type RecacheMode = 'on' | 'off';

/**
 * Which blocks a prompt switch at block k reaches in a cascade: `at-block` (block k and later;
 * the blocks already in flight finish under the prompt they were admitted with, the ticks that
 * span the switch running one call per prompt) or `in-flight` (the blocks in flight too: every
 * forward runs under its newest block's prompt, one call per tick, and the switch shows
 * earlier). Sequential mode (P0) has no block in flight: both are the same there.
 */
export type SwitchMode = 'at-block' | 'in-flight';

/**
 * How much earlier video a cascade block sees: `extended` (the committed window plus every
 * in-flight block, so at P4 a block sees up to four blocks more than the model's window, as in
 * the Block Cascading paper) or `trained` (the model's window counts the in-flight blocks: each
 * block sees the sink and the `kv.windowFrames` frames right before it, committed or in flight,
 * as it would sequentially; its attention then costs what a sequential block's does).
 * Sequential mode (P0) has no block in flight: both are the same there.
 */
export type CascadeWindow = 'extended' | 'trained';

export interface CascadeOptions {
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
  /** Default at P0: the model package's `kv.recache`, else `on`; `off` in a cascade (where `on` is an error). */
  readonly recache: RecacheMode;
  /** Default `at-block`. */
  readonly switchMode: SwitchMode;
  /** Default `extended`. */
  readonly cascadeWindow: CascadeWindow;
}

/** Everything a generation may set besides its request: cascade settings, the step count, feature caching. */
export interface GenerationSettings extends CascadeOptions {
  /** Denoising steps per block; default: the model's sampler (`sampler.timesteps.length`). */
  readonly steps: number;
  /** Block-wise feature caching (`core/feature-cache.ts`); default `{ policy: 'none' }`. */
  readonly featureCache: FeatureCacheSettings;
}
