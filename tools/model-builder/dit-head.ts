/**
 * Denoiser output stage: final AdaLN, projection to patches, unpatchify to the predicted clean
 * latent x̂0, and conversion to a flow.
 * @internal
 */
import type { ResolvedConfig } from './config.js';
import type { GraphBuilder } from './graph.js';
import type { HeadWeights } from './weights.js';

/** Smallest σ used when converting x̂0 to a flow (docs/design.md, "the model contract": an x̂0 head trains where a flow head does not). */
export const MIN_SIGMA = 0.05;

/**
 * `flow = (latents − x̂0) / max(timesteps / 1000, 0.05)`, per frame.
 * Returns the flow [B, F, C, H, W].
 */
export function head(
  g: GraphBuilder, w: HeadWeights, c: ResolvedConfig,
  hidden: string, timeEmbedding: string, latents: string, timesteps: string,
): string {
  const D = c.width;
  const p = c.patchSize;
  const h = g.reshape(hidden, [0, -1, c.tokensPerFrame, D]);
  const mod = g.unsqueeze(g.linear(g.silu(timeEmbedding), w.modulation.weight, w.modulation.bias), [2]);
  const [shift, scale] = g.splitLast(mod, [D, D]) as [string, string];
  const patches = g.linear(g.modulate(g.layerNorm(h), shift, scale), w.out.weight, w.out.bias);
  const grid = g.reshape(patches, [0, 0, c.gridHeight, c.gridWidth, p, p, c.latentChannels]);
  const x0 = g.reshape(g.transpose(grid, [0, 1, 6, 2, 4, 3, 5]), [0, 0, c.latentChannels, c.latentHeight, c.latentWidth]);
  const sigma = g.op('Max', [g.scale(timesteps, 1 / 1000), g.constFloat([MIN_SIGMA], [])]);
  return g.div(g.sub(latents, x0), g.unsqueeze(sigma, [2, 3, 4]));
}
