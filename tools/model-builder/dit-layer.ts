/**
 * One DiT layer: AdaLN-modulated self-attention with rotary frame positions and a K/V cache,
 * cross-attention to the prompt context, AdaLN-modulated MLP.
 *
 * Three ways to build it from the same weights: {@link layer} (inside the monolithic denoiser:
 * the layer's own K/V appended to the past), {@link layerKeyValues} (`layer_<i>_kv`: only the
 * K/V) and {@link layerBlock} (`layer_<i>`: queries attend to a given full K/V set). All three
 * share the stage functions below, so they compute the same values.
 * @internal
 */
import type { ResolvedConfig } from './config.js';
import type { GraphBuilder } from './graph.js';
import type { LayerWeights } from './weights.js';

export interface LayerInputs {
  /** [B, N, D] */
  readonly hidden: string;
  /** [B, F, D] */
  readonly timeEmbedding: string;
  /** [B, F] absolute frame index of each frame. */
  readonly framePositions: string;
  /** [B, Lt, Dc] */
  readonly context: string;
  /** [B, heads, T, headDim], keys already rotated. */
  readonly pastKey: string;
  readonly pastValue: string;
  /** [B, 1, N, T+N] additive self-attention mask. */
  readonly attentionMask: string;
}

export interface LayerOutputs {
  /** [B, N, D] */
  readonly hidden: string;
  /** [B, heads, N, headDim]: this call's keys (rotated) and values. */
  readonly presentKey: string;
  readonly presentValue: string;
}

/**
 * cos and sin of the rotary angles `position · θ_j`, θ_j = 10000^(−2j/headDim), shaped
 * [B, F, 1, 1, headDim/2] to broadcast over tokens and heads. Exported so that the monolithic
 * graph can compute them once for all layers.
 */
export function rotaryTables(g: GraphBuilder, c: ResolvedConfig, framePositions: string): { cos: string; sin: string } {
  const half = c.headDim / 2;
  const theta = Array.from({ length: half }, (_, j) => Math.pow(10000, (-2 * j) / c.headDim));
  const angles = g.mul(g.unsqueeze(framePositions, [-1]), g.constFloat(theta, [half]));
  const table = g.unsqueeze(angles, [2, 3]);
  return { cos: g.op('Cos', [table]), sin: g.op('Sin', [table]) };
}

/** [B, F, Tpf, D] → [B, heads, N, headDim] */
function toHeads(g: GraphBuilder, c: ResolvedConfig, x: string): string {
  return g.transpose(g.reshape(x, [0, -1, c.heads, c.headDim]), [0, 2, 1, 3]);
}

/** [B, heads, N, headDim] → [B, F, Tpf, D] */
function fromHeads(g: GraphBuilder, c: ResolvedConfig, x: string): string {
  return g.reshape(g.transpose(x, [0, 2, 1, 3]), [0, -1, c.tokensPerFrame, c.width]);
}

/**
 * Rotary embedding (rotate-half convention: the pairs are (x_j, x_{j+headDim/2})), then split
 * into heads: [B, F, Tpf, D] → [B, heads, N, headDim].
 */
function rotate(g: GraphBuilder, c: ResolvedConfig, x: string, rope: { cos: string; sin: string }): string {
  const half = c.headDim / 2;
  const perHead = g.reshape(x, [0, 0, c.tokensPerFrame, c.heads, c.headDim]);
  const [x1, x2] = g.splitLast(perHead, [half, half]) as [string, string];
  const r1 = g.sub(g.mul(x1, rope.cos), g.mul(x2, rope.sin));
  const r2 = g.add(g.mul(x1, rope.sin), g.mul(x2, rope.cos));
  const rotated = g.op('Concat', [r1, r2], { axis: -1 });
  return g.transpose(g.reshape(rotated, [0, -1, c.heads, c.headDim]), [0, 2, 1, 3]);
}

interface Modulated {
  /** [B, F, Tpf, D]: the layer input, per frame. */
  readonly h: string;
  /** [B, F, Tpf, D]: the modulated, normalised input of the self-attention projections. */
  readonly x: string;
  readonly gateA: string;
  readonly shiftM: string;
  readonly scaleM: string;
  readonly gateM: string;
}

/** The layer input per frame and its AdaLN modulation (per frame, broadcast over the frame's tokens). */
function modulated(g: GraphBuilder, w: LayerWeights, c: ResolvedConfig, hidden: string, timeEmbedding: string): Modulated {
  const D = c.width;
  const h = g.reshape(hidden, [0, -1, c.tokensPerFrame, D]);
  const mod = g.unsqueeze(g.linear(g.silu(timeEmbedding), w.modulation.weight, w.modulation.bias), [2]);
  const [shiftA, scaleA, gateA, shiftM, scaleM, gateM] = g.splitLast(mod, [D, D, D, D, D, D]) as [
    string, string, string, string, string, string,
  ];
  const x = g.modulate(g.layerNorm(h), shiftA, scaleA);
  return { h, x, gateA, shiftM, scaleM, gateM };
}

/** The self-attention half of a layer's input: modulation and the q/k/v projections. */
function selfAttentionInputs(
  g: GraphBuilder,
  w: LayerWeights,
  c: ResolvedConfig,
  hidden: string,
  timeEmbedding: string,
  rope: { cos: string; sin: string },
) {
  const D = c.width;
  const m = modulated(g, w, c, hidden, timeEmbedding);
  const [q, k, v] = g.splitLast(g.linear(m.x, w.qkv.weight, w.qkv.bias), [D, D, D]) as [string, string, string];
  return { ...m, q, key: rotate(g, c, k, rope), value: toHeads(g, c, v) };
}

/**
 * `layer_<i>_kv`: only the layer's K/V of the given tokens (what lanes exchange before
 * attending), from the k/v columns of the layer's q/k/v projection.
 */
export function layerKeyValues(
  g: GraphBuilder,
  w: LayerWeights,
  c: ResolvedConfig,
  io: Pick<LayerInputs, 'hidden' | 'timeEmbedding' | 'framePositions'>,
): { key: string; value: string } {
  const D = c.width;
  const rope = rotaryTables(g, c, io.framePositions);
  const m = modulated(g, w, c, io.hidden, io.timeEmbedding);
  const [k, v] = g.splitLast(g.linear(m.x, w.kv.weight, w.kv.bias), [D, D]) as [string, string];
  return { key: rotate(g, c, k, rope), value: toHeads(g, c, v) };
}

/** Inputs of {@link layerBlock}. */
export interface LayerBlockInputs extends Pick<LayerInputs, 'hidden' | 'timeEmbedding' | 'framePositions' | 'context'> {
  /** [B, heads, S, headDim]: every key the queries attend to (rotated), own tokens included. */
  readonly key: string;
  /** [B, heads, S, headDim] */
  readonly value: string;
  /** [B, 1, N, S] additive self-attention mask. */
  readonly attentionMask: string;
}

/**
 * `layer_<i>`: the queries of `hidden`'s tokens attend to the given full K/V set (no K/V
 * computed here), then cross-attention and MLP. Returns the layer output [B, N, D].
 */
export function layerBlock(g: GraphBuilder, w: LayerWeights, c: ResolvedConfig, io: LayerBlockInputs): string {
  const rope = rotaryTables(g, c, io.framePositions);
  const m = modulated(g, w, c, io.hidden, io.timeEmbedding);
  const q = g.linear(m.x, w.q.weight, w.q.bias);
  const attn = g.attention(rotate(g, c, q, rope), io.key, io.value, c.headDim, io.attentionMask);
  return afterSelfAttention(g, w, c, m, attn, io.context);
}

/**
 * Everything after the self-attention scores: output projection and gate, cross-attention to
 * the context, MLP. `attn` is the attention output [B, heads, N, headDim]; returns [B, N, D].
 */
function afterSelfAttention(g: GraphBuilder, w: LayerWeights, c: ResolvedConfig, m: Modulated, attn: string, context: string): string {
  const D = c.width;
  let h = m.h;
  h = g.add(h, g.mul(g.linear(fromHeads(g, c, attn), w.attnOut.weight, w.attnOut.bias), m.gateA));

  // Cross-attention to the prompt context.
  const cq = toHeads(g, c, g.linear(g.layerNorm(h), w.crossQ.weight, w.crossQ.bias));
  const [ck, cv] = g.splitLast(g.linear(context, w.crossKv.weight, w.crossKv.bias), [D, D]) as [string, string];
  const contextHeads = (t: string) => g.transpose(g.reshape(t, [0, 0, c.heads, c.headDim]), [0, 2, 1, 3]);
  const cross = fromHeads(g, c, g.attention(cq, contextHeads(ck), contextHeads(cv), c.headDim));
  h = g.add(h, g.linear(cross, w.crossOut.weight, w.crossOut.bias));

  // MLP.
  const mm = g.modulate(g.layerNorm(h), m.shiftM, m.scaleM);
  const mlp = g.linear(g.gelu(g.linear(mm, w.mlpIn.weight, w.mlpIn.bias)), w.mlpOut.weight, w.mlpOut.bias);
  h = g.add(h, g.mul(mlp, m.gateM));
  return g.reshape(h, [0, -1, D]);
}

/** The layer inside the monolithic denoiser: its own K/V computed and appended to the past. */
export function layer(
  g: GraphBuilder,
  w: LayerWeights,
  c: ResolvedConfig,
  io: LayerInputs,
  rope: { cos: string; sin: string } = rotaryTables(g, c, io.framePositions),
): LayerOutputs {
  const s = selfAttentionInputs(g, w, c, io.hidden, io.timeEmbedding, rope);
  const presentKey = s.key;
  const presentValue = s.value;

  // Self-attention over past + present, under the additive mask.
  const keys = g.op('Concat', [io.pastKey, presentKey], { axis: 2 });
  const values = g.op('Concat', [io.pastValue, presentValue], { axis: 2 });
  const attn = g.attention(rotate(g, c, s.q, rope), keys, values, c.headDim, io.attentionMask);
  return { hidden: afterSelfAttention(g, w, c, s, attn, io.context), presentKey, presentValue };
}
