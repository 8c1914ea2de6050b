/**
 * VAE decoder graph: latent frames → RGB frames in [−1, 1].
 * @internal
 */
import type { ModelManifest } from '../../src/core/manifest-types.js';
import { IO, vaeDecoderSpec } from '../../src/engine/model/contract.js';
import type { ResolvedConfig } from './config.js';
import { GraphBuilder } from './graph.js';
import { specOf } from './specs.js';
import type { VaeWeights } from './weights.js';

/** Per latent pixel: linear C → 3·sh·sw, depth-to-space (RGB, row, column), tanh. */
export function buildVaeDecoder(manifest: ModelManifest, c: ResolvedConfig, w: VaeWeights): GraphBuilder {
  const spec = vaeDecoderSpec(manifest);
  const g = new GraphBuilder('vae_decoder');
  const latents = g.input(specOf(spec.inputs, IO.latents));
  const pixels = g.linear(g.transpose(latents, [0, 1, 3, 4, 2]), w.proj.weight, w.proj.bias);
  const blocks = g.reshape(pixels, [0, 0, c.latentHeight, c.latentWidth, 3, c.upscaleHeight, c.upscaleWidth]);
  const rgb = g.reshape(g.transpose(blocks, [0, 1, 4, 2, 5, 3, 6]), [0, 0, 3, c.videoHeight, c.videoWidth]);
  g.output(g.op('Tanh', [rgb]), specOf(spec.outputs, IO.frames));
  return g;
}
