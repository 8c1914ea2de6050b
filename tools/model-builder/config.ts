/**
 * Configuration of the built model package: sizes, seed, vocabulary and the manifest that
 * follows from them.
 */
import type { ModelManifest } from '../../src/core/manifest-types.js';

/** Vocabulary of the default model: padding, unknown, then colours, shapes, directions, words. */
export const DEFAULT_VOCABULARY: readonly string[] = [
  '<pad>', '<unk>',
  'red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white',
  'ball', 'square', 'triangle',
  'left', 'right', 'up', 'down',
  'moving', 'a', 'the', 'slowly', 'quickly', 'and',
];

/** Sizes and seed of a built model (see docs/model-contract.md for the meaning of each). */
export interface BuilderConfig {
  readonly name: string;
  /** Seed of the deterministic weight initialisation. */
  readonly seed: number;
  readonly latentChannels: number;
  readonly latentHeight: number;
  readonly latentWidth: number;
  readonly patchSize: number;
  readonly framesPerBlock: number;
  /** Transformer width D. */
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly videoHeight: number;
  readonly videoWidth: number;
  /** Prompt length in tokens. */
  readonly maxTokens: number;
  /** Size of a context vector (text encoder output). */
  readonly contextDim: number;
  readonly vocabulary: readonly string[];
  readonly sinkFrames: number;
  readonly windowFrames: number;
  /** Sampler written to the manifest. */
  readonly sampler: ModelManifest['sampler'];
}

export const DEFAULT_BUILDER_CONFIG: BuilderConfig = {
  name: 'block-cascade-default',
  seed: 1234,
  latentChannels: 4,
  latentHeight: 8,
  latentWidth: 8,
  patchSize: 2,
  framesPerBlock: 3,
  width: 128,
  layers: 4,
  heads: 4,
  videoHeight: 32,
  videoWidth: 32,
  maxTokens: 8,
  contextDim: 64,
  vocabulary: DEFAULT_VOCABULARY,
  sinkFrames: 3,
  windowFrames: 9,
  sampler: { shift: 5, timesteps: [1000, 750, 500, 250], warp: true },
};

/** Config plus the sizes derived from it. @internal */
export interface ResolvedConfig extends BuilderConfig {
  readonly headDim: number;
  /** Patches per row / column. */
  readonly gridHeight: number;
  readonly gridWidth: number;
  readonly tokensPerFrame: number;
  /** Values of one patch: patchSize² · latentChannels. */
  readonly patchDim: number;
  /** Video pixels per latent pixel along each axis. */
  readonly upscaleHeight: number;
  readonly upscaleWidth: number;
}

const INT_FIELDS = [
  'seed', 'latentChannels', 'latentHeight', 'latentWidth', 'patchSize', 'framesPerBlock', 'width',
  'layers', 'heads', 'videoHeight', 'videoWidth', 'maxTokens', 'contextDim', 'windowFrames',
] as const;

/**
 * Merges `overrides` into the defaults and checks that the sizes fit together.
 * @throws {RangeError} when a size is not a positive integer or sizes do not divide.
 * @internal
 */
export function resolveConfig(overrides: Partial<BuilderConfig> = {}): ResolvedConfig {
  const c: BuilderConfig = { ...DEFAULT_BUILDER_CONFIG, ...overrides };
  for (const key of INT_FIELDS) {
    const v = c[key];
    if (!Number.isSafeInteger(v) || v < (key === 'seed' ? 0 : 1)) {
      throw new RangeError(`model builder: ${key} must be a ${key === 'seed' ? 'non-negative' : 'positive'} integer, got ${v}`);
    }
  }
  if (!Number.isSafeInteger(c.sinkFrames) || c.sinkFrames < 0) {
    throw new RangeError(`model builder: sinkFrames must be a non-negative integer, got ${c.sinkFrames}`);
  }
  const divides = (a: number, b: number, what: string) => {
    if (a % b !== 0) throw new RangeError(`model builder: ${what} (${a} % ${b} != 0)`);
  };
  divides(c.latentHeight, c.patchSize, 'latentHeight must be a multiple of patchSize');
  divides(c.latentWidth, c.patchSize, 'latentWidth must be a multiple of patchSize');
  divides(c.width, c.heads, 'width must be a multiple of heads');
  divides(c.width / c.heads, 2, 'headDim (width / heads) must be even for rotary embeddings');
  divides(c.width, 2, 'width must be even for the sinusoidal timestep embedding');
  divides(c.videoHeight, c.latentHeight, 'videoHeight must be a multiple of latentHeight');
  divides(c.videoWidth, c.latentWidth, 'videoWidth must be a multiple of latentWidth');
  if (c.vocabulary.length < 2) throw new RangeError('model builder: vocabulary needs at least <pad> and <unk>');
  const gridHeight = c.latentHeight / c.patchSize;
  const gridWidth = c.latentWidth / c.patchSize;
  return {
    ...c,
    headDim: c.width / c.heads,
    gridHeight,
    gridWidth,
    tokensPerFrame: gridHeight * gridWidth,
    patchDim: c.patchSize * c.patchSize * c.latentChannels,
    upscaleHeight: c.videoHeight / c.latentHeight,
    upscaleWidth: c.videoWidth / c.latentWidth,
  };
}

/** File names of a built package. @internal */
export function packageFiles(layers: number): ModelManifest['files'] {
  return {
    denoiser: 'denoiser.onnx',
    layered: {
      embed: 'embed.onnx',
      layers: Array.from({ length: layers }, (_, i) => ({ kv: `layer_${i}_kv.onnx`, block: `layer_${i}.onnx` })),
      head: 'head.onnx',
    },
    textEncoder: 'text_encoder.onnx',
    vaeDecoder: 'vae_decoder.onnx',
  };
}

/** The manifest of a package built from `c`. @internal */
export function manifestOf(c: ResolvedConfig): ModelManifest {
  return {
    format: 'block-cascade/model@2',
    name: c.name,
    latent: { channels: c.latentChannels, height: c.latentHeight, width: c.latentWidth },
    video: { height: c.videoHeight, width: c.videoWidth },
    framesPerBlock: c.framesPerBlock,
    patchSize: c.patchSize,
    tokensPerFrame: c.tokensPerFrame,
    width: c.width,
    layers: c.layers,
    heads: c.heads,
    headDim: c.headDim,
    text: { vocabulary: [...c.vocabulary], maxTokens: c.maxTokens, contextDim: c.contextDim },
    sampler: { shift: c.sampler.shift, timesteps: [...c.sampler.timesteps], warp: c.sampler.warp },
    kv: { sinkFrames: c.sinkFrames, windowFrames: c.windowFrames },
    files: packageFiles(c.layers),
  };
}
