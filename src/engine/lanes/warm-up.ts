/**
 * Warming a lane's sessions before the first real task (worker side). onnxruntime plans memory
 * and prepares kernels on a session's first runs; without this the first tick of a generation
 * paid for it (~300 ms with the bundled model) and a user saw it as latency to the first frame.
 *
 * Runs every session of the lane once on zero inputs of the shapes of a generation's first
 * tick (one block, an empty cache; with the layered graphs, the first share of a five-block
 * tick), writing nothing to the shared slabs: results of real tasks are the same as without it.
 * Later shapes (a growing cache, more blocks in flight) still pay a little on first use: warming
 * them all cost more start-up time than it saved (docs/performance.md).
 */
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '../../core/manifest-types.js';
import type { LayeredSessions } from './share-tick.js';
import { REUSE_RUN_IO } from '../model/reuse-run-graph.js';

/** The sessions a lane warms: the monolithic set and, when loaded, the layered one. */
export interface WarmSessions {
  readonly denoiser: ort.InferenceSession;
  readonly textEncoder: ort.InferenceSession;
  readonly vaeDecoder: ort.InferenceSession;
}

const zeros = (dims: readonly number[]) => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);

/**
 * Runs each session on zero inputs of generation's shapes; returns the milliseconds it took.
 *
 * @example
 * ```ts
 * const ms = await warmUp(manifest, sessions, layered, 5);
 * ```
 */
export async function warmUp(m: ModelManifest, sessions: WarmSessions, layered: LayeredSessions | null, inFlightBlocks: number): Promise<number> {
  const start = performance.now();
  const F = m.framesPerBlock;
  const pastFrames = m.kv.sinkFrames + m.kv.windowFrames;
  const tpf = m.tokensPerFrame;
  const context = zeros([1, m.text.maxTokens, m.text.contextDim]);
  await sessions.textEncoder.run({ tokens: new ort.Tensor('int64', new BigInt64Array(m.text.maxTokens), [1, m.text.maxTokens]) });
  await sessions.vaeDecoder.run({ latents: zeros([1, F, m.latent.channels, m.latent.height, m.latent.width]) });
  const masked = sessions.denoiser.inputNames.includes('attention_mask');
  {
    const [frames, past] = [F, 0];
    const n = frames * tpf;
    const feeds: Record<string, ort.Tensor> = {
      latents: zeros([1, frames, m.latent.channels, m.latent.height, m.latent.width]),
      timesteps: zeros([1, frames]),
      frame_positions: zeros([1, frames]),
      context,
      past_key: zeros([m.layers, 1, m.heads, past * tpf, m.headDim]),
      past_value: zeros([m.layers, 1, m.heads, past * tpf, m.headDim]),
    };
    if (masked) feeds.attention_mask = zeros([1, 1, n, past * tpf + n]);
    await sessions.denoiser.run(feeds);
  }
  if (layered) await warmLayered(m, layered, context, Math.ceil((inFlightBlocks * F) / 2), inFlightBlocks * F, pastFrames);
  return performance.now() - start;
}

/** One pass of the layered graphs over a share of `frames` of a `total`-frame tick. */
async function warmLayered(m: ModelManifest, s: LayeredSessions, context: ort.Tensor, frames: number, total: number, pastFrames: number): Promise<void> {
  const tpf = m.tokensPerFrame;
  const latents = zeros([1, frames, m.latent.channels, m.latent.height, m.latent.width]);
  const perFrame = zeros([1, frames]);
  const embedded = await s.embed.run({ latents, timesteps: perFrame });
  const hidden = embedded['hidden'] as ort.Tensor;
  const timeEmbedding = embedded['time_embedding'] as ort.Tensor;
  const keys = (pastFrames + total) * tpf;
  for (let l = 0; l < m.layers; l++) {
    await (s.keyValues[l] as ort.InferenceSession).run({ hidden, time_embedding: timeEmbedding, frame_positions: perFrame });
    await (s.layers[l] as ort.InferenceSession).run({
      hidden,
      time_embedding: timeEmbedding,
      frame_positions: perFrame,
      context,
      key: zeros([1, m.heads, keys, m.headDim]),
      value: zeros([1, m.heads, keys, m.headDim]),
      attention_mask: zeros([1, 1, frames * tpf, keys]),
    });
  }
  await s.head.run({ hidden, time_embedding: timeEmbedding, latents, timesteps: perFrame });
}

/**
 * Runs the fused forward (`model/fused-graph.ts`) once on zero inputs of one block with an
 * empty cache; returns the milliseconds it took.
 *
 * @example
 * ```ts
 * await warmFused(manifest, fused);
 * ```
 */
export async function warmFused(m: ModelManifest, fused: ort.InferenceSession): Promise<number> {
  const start = performance.now();
  const F = m.framesPerBlock;
  const n = F * m.tokensPerFrame;
  await fused.run({
    latents: zeros([1, F, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: zeros([1, F]),
    frame_positions: zeros([1, F]),
    context: zeros([1, m.text.maxTokens, m.text.contextDim]),
    past_key: zeros([m.layers, 1, m.heads, 0, m.headDim]),
    past_value: zeros([m.layers, 1, m.heads, 0, m.headDim]),
    attention_mask: zeros([1, 1, n, n]),
  });
  return performance.now() - start;
}

/**
 * Runs the reuse graph (`fuseReuseGraph`) once on zero inputs of one block; returns the
 * milliseconds it took.
 *
 * @example
 * ```ts
 * await warmReuse(manifest, reuse);
 * ```
 */
export async function warmReuse(m: ModelManifest, reuse: ort.InferenceSession): Promise<number> {
  const start = performance.now();
  const F = m.framesPerBlock;
  await reuse.run({
    latents: zeros([1, F, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: zeros([1, F]),
    residual: zeros([1, F * m.tokensPerFrame, m.width]),
  });
  return performance.now() - start;
}

/**
 * Runs a run of reused steps' graph (`fuseReuseRunGraph`) once on zero inputs of one block;
 * returns the milliseconds it took.
 *
 * @example
 * ```ts
 * await warmReuseRun(manifest, run);
 * ```
 */
export async function warmReuseRun(m: ModelManifest, run: ort.InferenceSession): Promise<number> {
  const start = performance.now();
  const F = m.framesPerBlock;
  const latent = [1, F, m.latent.channels, m.latent.height, m.latent.width];
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of run.inputNames) {
    if (name === REUSE_RUN_IO.latents || name.startsWith('noise_')) feeds[name] = zeros(latent);
    else if (name === REUSE_RUN_IO.residual) feeds[name] = zeros([1, F * m.tokensPerFrame, m.width]);
    else if (name.startsWith('timesteps_')) feeds[name] = zeros([1, F]);
    else feeds[name] = new ort.Tensor('float64', new Float64Array(1), []);
  }
  await run.run(feeds);
  return performance.now() - start;
}
