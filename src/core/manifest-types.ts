/**
 * The `model.json` manifest of a model package (see docs/model-contract.md).
 * The decoder in `manifest.ts` turns untrusted JSON into this type.
 */
import type { RecacheMode } from './cascade-options.js';

/** How a sampler step moves between noise levels (see `ModelManifest.sampler.update`). */
export type SamplerUpdate = 'renoise' | 'euler' | 've-ddim';

export interface ModelManifest {
  /** Always `block-cascade/model@2` (format 1, whose layer graphs took `past_key`, is refused). */
  readonly format: 'block-cascade/model@2';
  readonly name: string;
  /** Latent tensor of one frame: channels × height × width. */
  readonly latent: { readonly channels: number; readonly height: number; readonly width: number };
  /** Decoded RGB frame size. */
  readonly video: { readonly height: number; readonly width: number };
  /** Latent frames per block (3 in Self-Forcing). */
  readonly framesPerBlock: number;
  /** Spatial patch size of the patch embedding. */
  readonly patchSize: number;
  /** Tokens per latent frame: (height / patchSize) · (width / patchSize). */
  readonly tokensPerFrame: number;
  /** Transformer width (hidden size). */
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  readonly text: {
    /** Word vocabulary; a token id is the word's index. Index 0 is the padding word, 1 the unknown word. */
    readonly vocabulary: readonly string[];
    /** Prompts are cut or padded to this many tokens. */
    readonly maxTokens: number;
    /** Size of one context vector (the cross-attention input). */
    readonly contextDim: number;
  };
  readonly sampler: {
    /** Timestep shift of the flow-matching schedule (5 in Self-Forcing). */
    readonly shift: number;
    /** Raw (unwarped) timesteps of the denoising steps, e.g. [1000, 750, 500, 250]. */
    readonly timesteps: readonly number[];
    /** Whether the raw timesteps are warped by the shift (true in Self-Forcing). */
    readonly warp: boolean;
    /**
     * How a step moves from σ to the next σ. `renoise` (default, Self-Forcing's few-step
     * sampler): `x0 = x − σ·v`, then `(1 − σn)·x0 + σn·ε` with fresh noise for (seed, block,
     * step). `euler`: the flow ODE, `x + (σn − σ)·v`. `ve-ddim`: `x0 + σn·ε̂` with the implied
     * noise `ε̂ = (x − (1 − σ)·x0)/σ`, i.e. the Euler step plus `σn·x0`: the next input carries
     * more signal than its σ says, which makes a briefly trained model commit to a sample
     * (docs/quality.md). The last two draw no noise after the first.
     */
    readonly update?: SamplerUpdate;
  };
  readonly kv: {
    /** Frames kept forever at the start of the video (the first block). */
    readonly sinkFrames: number;
    /** Most recent frames kept in the rolling window. */
    readonly windowFrames: number;
    /**
     * Whether sequential mode re-caches at a prompt switch when the caller does not say
     * (`cascade.recache`). Default `on` (LongLive's choice); a model that switches better
     * without it says `off` (the bundled one, docs/interactive.md).
     */
    readonly recache?: RecacheMode;
  };
  /** File names, relative to the model folder. */
  readonly files: {
    readonly denoiser: string;
    /** The same weights split per layer, for per-layer K/V exchange between lanes. */
    readonly layered: {
      readonly embed: string;
      /** One entry per transformer layer, in order. */
      readonly layers: readonly LayerFiles[];
      readonly head: string;
    };
    readonly textEncoder: string;
    readonly vaeDecoder: string;
  };
}

/** The two graphs of one transformer layer in the layered form. */
export interface LayerFiles {
  /** `layer_<i>_kv.onnx`: this layer's K/V (keys rotated) of the given tokens. */
  readonly kv: string;
  /** `layer_<i>.onnx`: the layer proper, its queries attending to a given full K/V set. */
  readonly block: string;
}
