/**
 * The denoiser graphs: the monolithic form and the layered form (embed; per layer a K/V graph
 * and the layer proper; head) of the same weights. Both are assembled from the same stage
 * functions, so chaining the layered graphs computes what the monolithic graph computes.
 * @internal
 */
import type { ModelManifest } from '../../src/core/manifest-types.js';
import { IO, denoiserSpec, embedSpec, headSpec, layerKvSpec, layerSpec } from '../../src/engine/model/contract.js';
import type { ResolvedConfig } from './config.js';
import { embed } from './dit-embed.js';
import { head } from './dit-head.js';
import { layer, layerBlock, layerKeyValues, rotaryTables } from './dit-layer.js';
import { GraphBuilder } from './graph.js';
import { specOf } from './specs.js';
import type { ModelWeights } from './weights.js';

/** Monolithic denoiser: all layers, K/V of all layers stacked on a leading L axis. */
export function buildDenoiser(manifest: ModelManifest, c: ResolvedConfig, w: ModelWeights): GraphBuilder {
  const spec = denoiserSpec(manifest);
  const g = new GraphBuilder('denoiser');
  const input = (name: string) => g.input(specOf(spec.inputs, name));
  const latents = input(IO.latents);
  const timesteps = input(IO.timesteps);
  const framePositions = input(IO.framePositions);
  const context = input(IO.context);
  const pastKey = input(IO.pastKey);
  const pastValue = input(IO.pastValue);
  const attentionMask = input(IO.attentionMask);

  const e = embed(g, w.embed, c, latents, timesteps);
  const rope = rotaryTables(g, c, framePositions);
  let hidden = e.hidden;
  const keys: string[] = [];
  const values: string[] = [];
  w.layers.forEach((lw, i) => {
    const index = g.constInt64([i], []);
    const out = layer(g, lw, c, {
      hidden,
      timeEmbedding: e.timeEmbedding,
      framePositions,
      context,
      pastKey: g.op('Gather', [pastKey, index], { axis: 0 }),
      pastValue: g.op('Gather', [pastValue, index], { axis: 0 }),
      attentionMask,
    }, rope);
    hidden = out.hidden;
    keys.push(g.unsqueeze(out.presentKey, [0]));
    values.push(g.unsqueeze(out.presentValue, [0]));
  });
  const flow = head(g, w.head, c, hidden, e.timeEmbedding, latents, timesteps);
  g.output(flow, specOf(spec.outputs, IO.flow));
  g.output(g.op('Concat', keys, { axis: 0 }), specOf(spec.outputs, IO.presentKey));
  g.output(g.op('Concat', values, { axis: 0 }), specOf(spec.outputs, IO.presentValue));
  return g;
}

/** Layered form: embed graph. */
export function buildEmbed(manifest: ModelManifest, c: ResolvedConfig, w: ModelWeights): GraphBuilder {
  const spec = embedSpec(manifest);
  const g = new GraphBuilder('embed');
  const latents = g.input(specOf(spec.inputs, IO.latents));
  const timesteps = g.input(specOf(spec.inputs, IO.timesteps));
  const e = embed(g, w.embed, c, latents, timesteps);
  g.output(e.hidden, specOf(spec.outputs, IO.hidden));
  g.output(e.timeEmbedding, specOf(spec.outputs, IO.timeEmbedding));
  return g;
}

/**
 * Layered form: graph `layer_<index>`, the layer proper; its queries attend to the full K/V
 * set it is given (see `layerSpec`).
 */
export function buildLayer(manifest: ModelManifest, c: ResolvedConfig, w: ModelWeights, index: number): GraphBuilder {
  const spec = layerSpec(manifest);
  const lw = w.layers[index];
  if (lw === undefined) throw new RangeError(`model builder: no layer ${index}`);
  const g = new GraphBuilder(`layer_${index}`);
  const input = (name: string) => g.input(specOf(spec.inputs, name));
  const hidden = layerBlock(g, lw, c, {
    hidden: input(IO.hidden),
    timeEmbedding: input(IO.timeEmbedding),
    framePositions: input(IO.framePositions),
    context: input(IO.context),
    key: input(IO.key),
    value: input(IO.value),
    attentionMask: input(IO.attentionMask),
  });
  g.output(hidden, specOf(spec.outputs, IO.hiddenOut));
  return g;
}

/** Layered form: graph `layer_<index>_kv`, only that layer's K/V of the given tokens. */
export function buildLayerKv(manifest: ModelManifest, c: ResolvedConfig, w: ModelWeights, index: number): GraphBuilder {
  const spec = layerKvSpec(manifest);
  const lw = w.layers[index];
  if (lw === undefined) throw new RangeError(`model builder: no layer ${index}`);
  const g = new GraphBuilder(`layer_${index}_kv`);
  const input = (name: string) => g.input(specOf(spec.inputs, name));
  const out = layerKeyValues(g, lw, c, {
    hidden: input(IO.hidden),
    timeEmbedding: input(IO.timeEmbedding),
    framePositions: input(IO.framePositions),
  });
  g.output(out.key, specOf(spec.outputs, IO.key));
  g.output(out.value, specOf(spec.outputs, IO.value));
  return g;
}

/** Layered form: head graph. */
export function buildHead(manifest: ModelManifest, c: ResolvedConfig, w: ModelWeights): GraphBuilder {
  const spec = headSpec(manifest);
  const g = new GraphBuilder('head');
  const input = (name: string) => g.input(specOf(spec.inputs, name));
  const hidden = input(IO.hidden);
  const timeEmbedding = input(IO.timeEmbedding);
  const latents = input(IO.latents);
  const timesteps = input(IO.timesteps);
  g.output(head(g, w.head, c, hidden, timeEmbedding, latents, timesteps), specOf(spec.outputs, IO.flow));
  return g;
}
