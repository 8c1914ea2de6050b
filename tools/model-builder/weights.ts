/**
 * Deterministic weights of the built model.
 *
 * Every parameter gets an index in a fixed creation order and is drawn from the counter-based
 * noise with `(seed, block = index, step = 0, stream = weights)`, so weights depend only on the
 * config. Matrices use a normal init with std `gain / √fan_in`; biases start at zero.
 * The monolithic and the layered graphs are built from the same {@link ModelWeights}.
 * @internal
 */
import { gaussianNoise, NoiseStream } from '../../src/core/noise.js';
import type { ResolvedConfig } from './config.js';

/** One named parameter tensor. */
export interface Param {
  readonly name: string;
  readonly dims: readonly number[];
  readonly values: Float32Array;
}

export interface Linear {
  /** [in, out] */
  readonly weight: Param;
  /** [out] */
  readonly bias: Param;
}

export interface EmbedWeights {
  /** patchDim → D */
  readonly patch: Linear;
  /** Learned position of each token in its frame: [tokensPerFrame, D]. */
  readonly position: Param;
  /** Sinusoidal(t) (D values) → D → D. */
  readonly time1: Linear;
  readonly time2: Linear;
}

export interface LayerWeights {
  /** SiLU(temb) → 6·D: shift, scale, gate of attention; shift, scale, gate of the MLP. */
  readonly modulation: Linear;
  /** D → 3·D (q, k, v). */
  readonly qkv: Linear;
  /** The q columns of `qkv` (same values), for `layer_<i>`. */
  readonly q: Linear;
  /** The k and v columns of `qkv` (same values), for `layer_<i>_kv`. */
  readonly kv: Linear;
  readonly attnOut: Linear;
  readonly crossQ: Linear;
  /** contextDim → 2·D (k, v). */
  readonly crossKv: Linear;
  readonly crossOut: Linear;
  /** D → 4·D → D. */
  readonly mlpIn: Linear;
  readonly mlpOut: Linear;
}

export interface HeadWeights {
  /** SiLU(temb) → 2·D: shift, scale. */
  readonly modulation: Linear;
  /** D → patchDim. */
  readonly out: Linear;
}

export interface TextWeights {
  /** [vocabulary, contextDim] */
  readonly token: Param;
  /** [maxTokens, contextDim] */
  readonly position: Param;
  readonly fc1: Linear;
  readonly fc2: Linear;
}

export interface VaeWeights {
  /** C → 3 · upscaleHeight · upscaleWidth */
  readonly proj: Linear;
}

export interface ModelWeights {
  readonly embed: EmbedWeights;
  readonly layers: readonly LayerWeights[];
  readonly head: HeadWeights;
  readonly text: TextWeights;
  readonly vae: VaeWeights;
}

/**
 * Output columns [from, to) of a linear layer, as a new named parameter pair: the same values
 * (so the same float16 weights) as the corresponding part of the full layer. The layered graphs
 * use it to carry only the projections they compute (queries in `layer_<i>`, keys and values
 * in `layer_<i>_kv`).
 */
export function sliceLinear(l: Linear, from: number, to: number, name: string): Linear {
  const [inDim, outDim] = l.weight.dims as [number, number];
  if (!(0 <= from && from < to && to <= outDim)) throw new RangeError(`model builder: bad column slice [${from}, ${to}) of ${l.weight.name}`);
  const width = to - from;
  const weight = new Float32Array(inDim * width);
  for (let r = 0; r < inDim; r++) weight.set(l.weight.values.subarray(r * outDim + from, r * outDim + to), r * width);
  return {
    weight: { name: `${name}.weight`, dims: [inDim, width], values: weight },
    bias: { name: `${name}.bias`, dims: [width], values: l.bias.values.slice(from, to) },
  };
}

class ParamFactory {
  private index = 0;
  constructor(private readonly seed: number) {}

  normal(name: string, dims: readonly number[], std: number): Param {
    const size = dims.reduce((a, b) => a * b, 1);
    const values = gaussianNoise({ seed: this.seed, block: this.index++, step: 0, stream: NoiseStream.weights }, new Float32Array(size));
    for (let i = 0; i < size; i++) values[i] = (values[i] as number) * std;
    return { name, dims, values };
  }

  zeros(name: string, dims: readonly number[]): Param {
    this.index++;
    return { name, dims, values: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
  }

  linear(name: string, inDim: number, outDim: number, gain = 1): Linear {
    return {
      weight: this.normal(`${name}.weight`, [inDim, outDim], gain / Math.sqrt(inDim)),
      bias: this.zeros(`${name}.bias`, [outDim]),
    };
  }
}

/** Creates every weight of the model for `c`, in a fixed order. */
export function createWeights(c: ResolvedConfig): ModelWeights {
  const f = new ParamFactory(c.seed);
  const D = c.width;
  const embed: EmbedWeights = {
    patch: f.linear('embed.patch', c.patchDim, D),
    position: f.normal('embed.position', [c.tokensPerFrame, D], 0.5),
    time1: f.linear('embed.time1', D, D),
    time2: f.linear('embed.time2', D, D),
  };
  const layers = Array.from({ length: c.layers }, (_, i): LayerWeights => {
    const p = `layers.${i}`;
    const modulation = f.linear(`${p}.modulation`, D, 6 * D, 0.5);
    const qkv = f.linear(`${p}.attn.qkv`, D, 3 * D);
    return {
      modulation,
      qkv,
      // Derived, not drawn: the draw order (and so every weight) is unchanged.
      q: sliceLinear(qkv, 0, D, `${p}.attn.q`),
      kv: sliceLinear(qkv, D, 3 * D, `${p}.attn.kv`),
      attnOut: f.linear(`${p}.attn.out`, D, D),
      crossQ: f.linear(`${p}.cross.q`, D, D),
      crossKv: f.linear(`${p}.cross.kv`, c.contextDim, 2 * D),
      crossOut: f.linear(`${p}.cross.out`, D, D, 0.5),
      mlpIn: f.linear(`${p}.mlp.in`, D, 4 * D),
      mlpOut: f.linear(`${p}.mlp.out`, 4 * D, D),
    };
  });
  const head: HeadWeights = {
    modulation: f.linear('head.modulation', D, 2 * D, 0.5),
    out: f.linear('head.out', D, c.patchDim),
  };
  const Dc = c.contextDim;
  const text: TextWeights = {
    token: f.normal('text.token', [c.vocabulary.length, Dc], 1),
    position: f.normal('text.position', [c.maxTokens, Dc], 0.5),
    fc1: f.linear('text.fc1', Dc, 4 * Dc),
    fc2: f.linear('text.fc2', 4 * Dc, Dc),
  };
  const vae: VaeWeights = {
    proj: f.linear('vae.proj', c.latentChannels, 3 * c.upscaleHeight * c.upscaleWidth),
  };
  return { embed, layers, head, text, vae };
}
