/**
 * Denoiser input stage: patch embedding with learned in-frame positions, and the per-frame
 * timestep embedding.
 * @internal
 */
import type { ResolvedConfig } from './config.js';
import type { GraphBuilder } from './graph.js';
import type { EmbedWeights } from './weights.js';

export interface EmbedOutputs {
  /** [B, N, D], frame-major tokens. */
  readonly hidden: string;
  /** [B, F, D] */
  readonly timeEmbedding: string;
}

/**
 * Patchifies `latents` [B,F,C,H,W] (each patch flattened as (row, column, channel)), projects
 * patches to D and adds the position of the token in its frame; embeds `timesteps` [B,F] as
 * sinusoids of t (cos half, then sin half) followed by Linear → SiLU → Linear.
 */
export function embed(g: GraphBuilder, w: EmbedWeights, c: ResolvedConfig, latents: string, timesteps: string): EmbedOutputs {
  const p = c.patchSize;
  const grid = g.reshape(latents, [0, 0, c.latentChannels, c.gridHeight, p, c.gridWidth, p]);
  const patches = g.reshape(g.transpose(grid, [0, 1, 3, 5, 4, 6, 2]), [0, 0, c.tokensPerFrame, c.patchDim]);
  const tokens = g.add(g.linear(patches, w.patch.weight, w.patch.bias), g.weight(w.position));
  const hidden = g.reshape(tokens, [0, -1, c.width]);

  const half = c.width / 2;
  const freqs = Array.from({ length: half }, (_, j) => Math.exp((-Math.log(10000) * j) / half));
  const args = g.mul(g.unsqueeze(timesteps, [-1]), g.constFloat(freqs, [half]));
  const sinusoid = g.op('Concat', [g.op('Cos', [args]), g.op('Sin', [args])], { axis: -1 });
  const t1 = g.silu(g.linear(sinusoid, w.time1.weight, w.time1.bias));
  const timeEmbedding = g.linear(t1, w.time2.weight, w.time2.bias);
  return { hidden, timeEmbedding };
}
