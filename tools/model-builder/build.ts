/**
 * Builds a complete model package (model.json + ONNX files) with deterministic weights.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../src/engine/model/contract.js';
import type { ModelManifest } from '../../src/core/manifest-types.js';
import { manifestOf, resolveConfig, type BuilderConfig } from './config.js';
import { buildDenoiser, buildEmbed, buildHead, buildLayer, buildLayerKv } from './denoiser.js';
import { buildTextEncoder } from './text-encoder.js';
import { buildVaeDecoder } from './vae-decoder.js';
import { createWeights } from './weights.js';

/** A built package in memory: the manifest and the bytes of every file, keyed by file name. */
export interface BuiltModel {
  readonly manifest: ModelManifest;
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * Builds every file of a model package in memory. Pure: the same config gives the same bytes.
 *
 * @example
 * ```ts
 * const { manifest, files } = buildModel({ layers: 2, width: 64 });
 * console.log(manifest.tokensPerFrame, files.get('denoiser.onnx')?.byteLength);
 * ```
 */
export function buildModel(config: Partial<BuilderConfig> = {}): BuiltModel {
  const c = resolveConfig(config);
  const manifest = manifestOf(c);
  const w = createWeights(c);
  const files = new Map<string, Uint8Array>();
  files.set(manifest.files.denoiser, buildDenoiser(manifest, c, w).encode());
  files.set(manifest.files.layered.embed, buildEmbed(manifest, c, w).encode());
  manifest.files.layered.layers.forEach((layer, i) => {
    files.set(layer.kv, buildLayerKv(manifest, c, w, i).encode());
    files.set(layer.block, buildLayer(manifest, c, w, i).encode());
  });
  files.set(manifest.files.layered.head, buildHead(manifest, c, w).encode());
  files.set(manifest.files.textEncoder, buildTextEncoder(manifest, w.text).encode());
  files.set(manifest.files.vaeDecoder, buildVaeDecoder(manifest, c, w.vae).encode());
  files.set(MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
  return { manifest, files };
}

/**
 * Builds a small DiT model package with deterministic seeded weights and writes it to `dir`
 * (created if needed; files of the same name are replaced).
 *
 * The package follows docs/model-contract.md: a monolithic `denoiser.onnx` with K/V in and
 * out, the layered form of the same weights (`embed.onnx`, per layer `layer_<i>_kv.onnx` and
 * `layer_<i>.onnx`, `head.onnx`),
 * `text_encoder.onnx`, `vae_decoder.onnx` and `model.json`. Building twice with the same
 * config gives byte-identical files.
 *
 * @param dir - Output folder.
 * @param config - Overrides of {@link DEFAULT_BUILDER_CONFIG}.
 * @returns The manifest written to `dir/model.json`.
 * @throws {RangeError} when the config's sizes do not fit together.
 *
 * @example
 * ```ts
 * import { buildModelPackage } from './model-builder/build.js';
 *
 * const manifest = await buildModelPackage('models/tiny', { layers: 2, width: 64, seed: 7 });
 * console.log(manifest.files.layered.layers[1]); // { kv: 'layer_1_kv.onnx', block: 'layer_1.onnx' }
 * ```
 */
export async function buildModelPackage(dir: string, config: Partial<BuilderConfig> = {}): Promise<ModelManifest> {
  const { manifest, files } = buildModel(config);
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(dir, name), bytes);
  return manifest;
}

export { DEFAULT_BUILDER_CONFIG, DEFAULT_VOCABULARY, type BuilderConfig } from './config.js';
