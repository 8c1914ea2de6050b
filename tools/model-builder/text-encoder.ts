/**
 * Text encoder graph: token ids → context vectors for cross-attention.
 * @internal
 */
import type { ModelManifest } from '../../src/core/manifest-types.js';
import { IO, textEncoderSpec } from '../../src/engine/model/contract.js';
import { GraphBuilder } from './graph.js';
import { specOf } from './specs.js';
import type { TextWeights } from './weights.js';

/** `context = LayerNorm(x + W2·GELU(W1·x))`, `x = token embedding + position embedding`. */
export function buildTextEncoder(manifest: ModelManifest, w: TextWeights): GraphBuilder {
  const spec = textEncoderSpec(manifest);
  const g = new GraphBuilder('text_encoder');
  const tokens = g.input(specOf(spec.inputs, IO.tokens));
  const embedded = g.op('Gather', [g.weight(w.token), tokens], { axis: 0 });
  const length = g.op('Shape', [tokens], { start: 1, end: 2 });
  const positions = g.op('Slice', [g.weight(w.position), g.constInt64([0]), length, g.constInt64([0])]);
  const x = g.add(embedded, positions);
  const y = g.add(x, g.linear(g.gelu(g.linear(x, w.fc1.weight, w.fc1.bias)), w.fc2.weight, w.fc2.bias));
  g.output(g.layerNorm(y), specOf(spec.outputs, IO.context));
  return g;
}
