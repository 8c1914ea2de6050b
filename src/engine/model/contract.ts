/**
 * The model contract as data: the inputs and outputs every ONNX file of a model package must
 * have, derived from its manifest. The builder declares its graph IO from these specs and the
 * validator checks real graphs against them, so each name is written once, here.
 *
 * See docs/model-contract.md for the meaning of every tensor.
 */
import type { ModelManifest } from '../../core/manifest-types.js';

/** File name of the manifest inside a package folder. */
export const MANIFEST_FILE = 'model.json';

/** Input and output names of the model contract. */
export const IO = {
  latents: 'latents',
  timesteps: 'timesteps',
  framePositions: 'frame_positions',
  context: 'context',
  pastKey: 'past_key',
  pastValue: 'past_value',
  flow: 'flow',
  presentKey: 'present_key',
  presentValue: 'present_value',
  hidden: 'hidden',
  timeEmbedding: 'time_embedding',
  hiddenOut: 'hidden_out',
  attentionMask: 'attention_mask',
  key: 'key',
  value: 'value',
  tokens: 'tokens',
  frames: 'frames',
} as const;

/**
 * Symbols of the dynamic dimensions: batch, frames, tokens of this call (F·tokensPerFrame),
 * past tokens, prompt tokens, and `S`, the keys a query attends to (`T + N` for the denoiser;
 * the cache past plus every in-flight token for a layer graph).
 */
export type DynamicDim = 'B' | 'F' | 'N' | 'T' | 'Lt' | 'S';

/** One dimension of a contract tensor. */
export type DimSpec =
  /** Fixed by the manifest; `field` names the manifest field it comes from (absent for constants such as RGB's 3). */
  | { readonly kind: 'static'; readonly size: number; readonly field?: string }
  /** Chosen per call by the runtime: the graph must leave it free. */
  | { readonly kind: 'dynamic'; readonly symbol: DynamicDim };

/** Element types used by the contract (ONNX Runtime's tensor type names). */
export type ElementType = 'float32' | 'float64' | 'int64';

export interface TensorSpec {
  readonly name: string;
  readonly type: ElementType;
  readonly dims: readonly DimSpec[];
}

export interface GraphSpec {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** Which graph of a package a spec is for (`layerKv`: `layer_<i>_kv`, `layer`: `layer_<i>`). */
export type GraphRole = 'denoiser' | 'embed' | 'layer' | 'layerKv' | 'head' | 'textEncoder' | 'vaeDecoder';

const dyn = (symbol: DynamicDim): DimSpec => ({ kind: 'dynamic', symbol });
const fixed = (size: number, field?: string): DimSpec =>
  field === undefined ? { kind: 'static', size } : { kind: 'static', size, field };
const f32 = (name: string, dims: readonly DimSpec[]): TensorSpec => ({ name, type: 'float32', dims });

/** The manifest fields the contract depends on. */
export type ContractDims = Pick<
  ModelManifest,
  'latent' | 'video' | 'width' | 'layers' | 'heads' | 'headDim' | 'text'
>;

function shapes(m: ContractDims) {
  const latent = [
    dyn('B'), dyn('F'),
    fixed(m.latent.channels, 'latent.channels'),
    fixed(m.latent.height, 'latent.height'),
    fixed(m.latent.width, 'latent.width'),
  ];
  const perFrame = [dyn('B'), dyn('F')];
  const context = [dyn('B'), dyn('Lt'), fixed(m.text.contextDim, 'text.contextDim')];
  const heads = fixed(m.heads, 'heads');
  const headDim = fixed(m.headDim, 'headDim');
  const layers = fixed(m.layers, 'layers');
  const kvPast = [dyn('B'), heads, dyn('T'), headDim];
  const kvPresent = [dyn('B'), heads, dyn('N'), headDim];
  // Every key/value a layer's queries attend to: cache past and every in-flight token.
  const kvAll = [dyn('B'), heads, dyn('S'), headDim];
  const hidden = [dyn('B'), dyn('N'), fixed(m.width, 'width')];
  const temb = [dyn('B'), dyn('F'), fixed(m.width, 'width')];
  // Additive self-attention mask: one row per query token, one column per key.
  const mask = [dyn('B'), fixed(1), dyn('N'), dyn('S')];
  return { latent, perFrame, context, layers, kvPast, kvPresent, kvAll, hidden, temb, mask };
}

/** Monolithic denoiser: one forward over all layers, K/V of every layer in and out. */
export function denoiserSpec(m: ContractDims): GraphSpec {
  const s = shapes(m);
  return {
    inputs: [
      f32(IO.latents, s.latent),
      f32(IO.timesteps, s.perFrame),
      f32(IO.framePositions, s.perFrame),
      f32(IO.context, s.context),
      f32(IO.pastKey, [s.layers, ...s.kvPast]),
      f32(IO.pastValue, [s.layers, ...s.kvPast]),
      f32(IO.attentionMask, s.mask),
    ],
    outputs: [
      f32(IO.flow, s.latent),
      f32(IO.presentKey, [s.layers, ...s.kvPresent]),
      f32(IO.presentValue, [s.layers, ...s.kvPresent]),
    ],
  };
}

/** Layered form, first graph: patch and timestep embeddings. */
export function embedSpec(m: ContractDims): GraphSpec {
  const s = shapes(m);
  return {
    inputs: [f32(IO.latents, s.latent), f32(IO.timesteps, s.perFrame)],
    outputs: [f32(IO.hidden, s.hidden), f32(IO.timeEmbedding, s.temb)],
  };
}

/**
 * Layered form, the K/V graph of a layer (`layer_<i>_kv`): this layer's keys (rotated with
 * their absolute frame positions) and values of the given tokens, exactly what the monolithic
 * denoiser returns for that layer in `present_key` / `present_value`. Lanes run it on their
 * share of the in-flight tokens and exchange the result before running the layer itself.
 */
export function layerKvSpec(m: ContractDims): GraphSpec {
  const s = shapes(m);
  return {
    inputs: [f32(IO.hidden, s.hidden), f32(IO.timeEmbedding, s.temb), f32(IO.framePositions, s.perFrame)],
    outputs: [f32(IO.key, s.kvPresent), f32(IO.value, s.kvPresent)],
  };
}

/**
 * Layered form, the rest of a layer (`layer_<i>`): the queries of `hidden`'s tokens attend to
 * the FULL `key` / `value` set given (the cache past and every in-flight token, in the order
 * the runtime chose; the own tokens' K/V are part of it, not recomputed inside) under the
 * additive `attention_mask`, then cross-attention and MLP. Same IO for every layer.
 */
export function layerSpec(m: ContractDims): GraphSpec {
  const s = shapes(m);
  return {
    inputs: [
      f32(IO.hidden, s.hidden),
      f32(IO.timeEmbedding, s.temb),
      f32(IO.framePositions, s.perFrame),
      f32(IO.context, s.context),
      f32(IO.key, s.kvAll),
      f32(IO.value, s.kvAll),
      f32(IO.attentionMask, s.mask),
    ],
    outputs: [f32(IO.hiddenOut, s.hidden)],
  };
}

/** Layered form, last graph: final modulation, projection to patches and the flow. */
export function headSpec(m: ContractDims): GraphSpec {
  const s = shapes(m);
  return {
    inputs: [
      f32(IO.hidden, s.hidden),
      f32(IO.timeEmbedding, s.temb),
      f32(IO.latents, s.latent),
      f32(IO.timesteps, s.perFrame),
    ],
    outputs: [f32(IO.flow, s.latent)],
  };
}

/** Text encoder: token ids to the cross-attention context. */
export function textEncoderSpec(m: ContractDims): GraphSpec {
  const s = shapes(m);
  return {
    inputs: [{ name: IO.tokens, type: 'int64', dims: [dyn('B'), dyn('Lt')] }],
    outputs: [f32(IO.context, s.context)],
  };
}

/** VAE decoder: latent frames to RGB frames in [−1, 1]. */
export function vaeDecoderSpec(m: ContractDims): GraphSpec {
  const s = shapes(m);
  return {
    inputs: [f32(IO.latents, s.latent)],
    outputs: [
      f32(IO.frames, [
        dyn('B'), dyn('F'), fixed(3),
        fixed(m.video.height, 'video.height'),
        fixed(m.video.width, 'video.width'),
      ]),
    ],
  };
}

/** One ONNX file of a package with the spec it must satisfy. */
export interface PackageGraph {
  readonly role: GraphRole;
  /** File name relative to the package folder, as written in the manifest. */
  readonly file: string;
  /** Manifest field that names the file, e.g. `files.layered.layers.2`. */
  readonly field: string;
  readonly spec: GraphSpec;
}

/** Every ONNX file of a package, in a stable order, with its spec. */
export function packageGraphs(m: ModelManifest): readonly PackageGraph[] {
  const layer = layerSpec(m);
  const layerKv = layerKvSpec(m);
  return [
    { role: 'denoiser', file: m.files.denoiser, field: 'files.denoiser', spec: denoiserSpec(m) },
    { role: 'embed', file: m.files.layered.embed, field: 'files.layered.embed', spec: embedSpec(m) },
    ...m.files.layered.layers.flatMap((files, i): PackageGraph[] => [
      { role: 'layerKv', file: files.kv, field: `files.layered.layers.${i}.kv`, spec: layerKv },
      { role: 'layer', file: files.block, field: `files.layered.layers.${i}.block`, spec: layer },
    ]),
    { role: 'head', file: m.files.layered.head, field: 'files.layered.head', spec: headSpec(m) },
    { role: 'textEncoder', file: m.files.textEncoder, field: 'files.textEncoder', spec: textEncoderSpec(m) },
    { role: 'vaeDecoder', file: m.files.vaeDecoder, field: 'files.vaeDecoder', spec: vaeDecoderSpec(m) },
  ];
}
