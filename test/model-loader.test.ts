import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelPackage } from '../tools/model-builder/build.js';
import { DEFAULT_VOCABULARY } from '../tools/model-builder/config.js';
import { ModelPackageError } from '../src/engine/model/errors.js';
import { loadModelPackage, readManifest, validateModelGraphs } from '../src/engine/model/loader.js';
import { decodeManifest } from '../src/engine/model/manifest.js';
import { defaultModelDir } from '../src/engine/model/paths.js';
import type { ModelManifest } from '../src/core/manifest-types.js';
import { tokenizePrompt } from '../src/engine/model/tokenizer.js';
import { createRuntime } from '../src/api/runtime.js';

let root: string;
let built: string;
let manifest: ModelManifest;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bc-loader-'));
  built = join(root, 'built');
  manifest = await buildModelPackage(built, { layers: 2, width: 64, heads: 2, contextDim: 32, seed: 3 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A copy of the built package, with its manifest edited by `edit`. */
async function variant(name: string, edit: (json: Record<string, any>) => void): Promise<string> {
  const dir = join(root, name);
  await cp(built, dir, { recursive: true });
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<string, any>;
  edit(json);
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

/** The ModelPackageError that `p` rejects with. */
async function failure(p: Promise<unknown>): Promise<ModelPackageError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelPackageError);
  return err as ModelPackageError;
}

describe('loadModelPackage: valid packages', () => {
  it('loads and validates the committed models/random', async () => {
    const pkg = await loadModelPackage('models/random');
    expect(isAbsolute(pkg.dir)).toBe(true);
    expect(pkg.manifest.format).toBe('block-cascade/model@2');
    expect(pkg.manifest.layers).toBe(4);
    expect(pkg.manifest.files.layered.layers[2]).toEqual({ kv: 'layer_2_kv.onnx', block: 'layer_2.onnx' });
    expect(pkg.paths.denoiser).toBe(join(pkg.dir, 'denoiser.onnx'));
    // Paths: the per-layer pairs as parallel arrays.
    expect(pkg.paths.layered.layers).toEqual([0, 1, 2, 3].map((i) => join(pkg.dir, `layer_${i}.onnx`)));
    expect(pkg.paths.layered.keyValues).toEqual([0, 1, 2, 3].map((i) => join(pkg.dir, `layer_${i}_kv.onnx`)));
  });

  it('loads and validates a freshly built package of another size', async () => {
    const pkg = await loadModelPackage(built);
    expect(pkg.manifest).toEqual(manifest);
    expect(pkg.manifest.headDim).toBe(32);
    expect(pkg.paths.textEncoder).toBe(join(pkg.dir, 'text_encoder.onnx'));
  });
});

describe('manifest decoding', () => {
  it('names the file and the field of a value of the wrong type', async () => {
    const dir = await variant('wrong-type', (j) => { j.latent.channels = '4'; });
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_MANIFEST_INVALID');
    expect(err.field).toBe('latent.channels');
    expect(err.file).toBe(join(dir, 'model.json'));
    expect(err.message).toBe(`${join(dir, 'model.json')}: field "latent.channels": expected a positive integer, got "4"`);
  });

  it('reports every bad field, including missing ones and entries of arrays', () => {
    const json = JSON.parse(JSON.stringify(manifest)) as Record<string, any>;
    delete json.heads;
    json.sampler.timesteps = [1000, 'x'];
    json.files.layered.layers = [{ kv: 'layer_0_kv.onnx', block: '../escape.onnx' }, 'layer_1.onnx'];
    json.format = 'other@2';
    const err = (() => { try { decodeManifest(json, 'm/model.json'); } catch (e) { return e as ModelPackageError; } })();
    expect(err).toBeInstanceOf(ModelPackageError);
    const fields = err?.issues.map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['heads', 'sampler.timesteps.1', 'files.layered.layers.0.block', 'files.layered.layers.1', 'format']));
    expect(err?.message).toContain('field "files.layered.layers.1": expected an object, got "layer_1.onnx"');
    expect(err?.message).toContain('m/model.json: field "heads": is missing');
    expect(err?.message).toContain('field "sampler.timesteps.1": expected a number in (0, 1000], got "x"');
  });

  it('checks relations between fields', () => {
    const bad = (edit: (j: Record<string, any>) => void) => {
      const json = JSON.parse(JSON.stringify(manifest)) as Record<string, any>;
      edit(json);
      try {
        decodeManifest(json, 'x/model.json');
      } catch (e) {
        return e as ModelPackageError;
      }
      throw new Error('expected decodeManifest to fail');
    };
    expect(bad((j) => { j.tokensPerFrame = 15; }).message).toMatch(/field "tokensPerFrame": is 15 but .* is 16/);
    expect(bad((j) => { j.headDim = 16; }).field).toBe('headDim');
    expect(bad((j) => { j.layers = 3; }).field).toBe('files.layered.layers');
    expect(bad((j) => { j.sampler.timesteps = [1000, 250, 500]; }).field).toBe('sampler.timesteps.2');
    expect(bad((j) => { j.patchSize = 3; }).message).toContain('does not divide latent.height');
    expect(bad((j) => { (j.sampler as { update?: string }).update = 'ddim'; }).message).toContain('field "sampler.update": expected "renoise", "euler" or "ve-ddim", got "ddim"');
    expect(bad((j) => { (j.kv as { recache?: unknown }).recache = true; }).message).toContain('field "kv.recache": expected "on" or "off"');
  });

  it('refuses a format-1 manifest with a message that says to rebuild', async () => {
    const dir = await variant('format-1', (j) => {
      j.format = 'block-cascade/model@1';
      j.files.layered.layers = ['layer_0.onnx', 'layer_1.onnx'];
      j.files.layered.keyValues = ['layer_0_kv.onnx', 'layer_1_kv.onnx'];
    });
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_MANIFEST_INVALID');
    expect(err.field).toBe('format');
    expect(err.issues).toHaveLength(1);
    expect(err.message).toMatch(/field "format": model format 1 is no longer supported .*rebuild the package with `npx tsx tools\/model-builder\/cli.ts --out <dir>`/);
  });

  it('accepts a valid manifest unchanged', () => {
    expect(decodeManifest(JSON.parse(JSON.stringify(manifest)), 'x/model.json')).toEqual(manifest);
  });

  it('reports unreadable and non-JSON manifests', async () => {
    const missing = await failure(readManifest(join(root, 'nowhere')));
    expect(missing.code).toBe('E_MODEL_MANIFEST_UNREADABLE');
    expect(missing.message).toBe(`${join(root, 'nowhere', 'model.json')}: file is missing`);
    const dir = join(root, 'not-json');
    await cp(built, dir, { recursive: true });
    await writeFile(join(dir, 'model.json'), '{ "format": ');
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_MANIFEST_UNREADABLE');
    expect(err.message).toContain('is not valid JSON');
  });
});

describe('package files', () => {
  it('names a missing file', async () => {
    const dir = await variant('missing-file', () => {});
    await rm(join(dir, 'layer_1.onnx'));
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_FILE_MISSING');
    expect(err.file).toBe(join(dir, 'layer_1.onnx'));
    expect(err.field).toBe('files.layered.layers.1.block');
    expect(err.message).toContain('layer_1.onnx: file is missing (named by model.json files.layered.layers.1.block)');
  });

  it('reports a file that is not an ONNX model', async () => {
    const dir = await variant('garbage', () => {});
    await writeFile(join(dir, 'head.onnx'), 'not a model');
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_GRAPH_UNREADABLE');
    expect(err.file).toBe(join(dir, 'head.onnx'));
  });
});

describe('graph validation against the manifest', () => {
  it('names file, input and both sizes when latent.channels disagrees', async () => {
    const dir = await variant('channels', (j) => { j.latent.channels = 8; });
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_GRAPH_MISMATCH');
    expect(err.message).toContain(`${join(dir, 'denoiser.onnx')}: input "latents" dim 2 is 4 but model.json latent.channels is 8`);
    expect(err.message).toContain(`${join(dir, 'denoiser.onnx')}: output "flow" dim 2 is 4`);
    expect(err.message).toContain(`${join(dir, 'vae_decoder.onnx')}: input "latents" dim 2 is 4`);
    expect(err.file).toBe(join(dir, 'denoiser.onnx'));
    expect(err.field).toBe('latents');
  });

  it('createRuntime refuses a graph that breaks the contract before a lane opens it', async () => {
    // Checking the graphs while the lanes opened them (to start faster) once took the whole test
    // process down with a native error: the check must come first.
    const dir = await variant('runtime-channels', (j) => { j.latent.channels = 8; });
    const err = await failure(createRuntime({ model: dir, lanes: 2 }));
    expect(err.code).toBe('E_MODEL_GRAPH_MISMATCH');
    expect(err.message).toContain(`${join(dir, 'denoiser.onnx')}: input "latents" dim 2 is 4 but model.json latent.channels is 8`);
    const unreadable = await variant('runtime-garbage', () => {});
    await writeFile(join(unreadable, 'denoiser.onnx'), 'not a model');
    expect((await failure(createRuntime({ model: unreadable, lanes: 1 }))).code).toBe('E_MODEL_GRAPH_UNREADABLE');
  });

  it('catches a layer count that disagrees with the stacked K/V', async () => {
    const dir = await variant('layers', (j) => { j.layers = 1; j.files.layered.layers = j.files.layered.layers.slice(0, 1); });
    const err = await failure(loadModelPackage(dir));
    expect(err.message).toContain('denoiser.onnx: input "past_key" dim 0 is 2 but model.json layers is 1');
    expect(err.message).toContain('denoiser.onnx: output "present_value" dim 0 is 2');
  });

  it('catches context and video sizes', async () => {
    const dir = await variant('sizes', (j) => { j.text.contextDim = 48; j.video = { height: 64, width: 32 }; });
    const err = await failure(loadModelPackage(dir));
    expect(err.message).toContain('text_encoder.onnx: output "context" dim 2 is 32 but model.json text.contextDim is 48');
    expect(err.message).toContain('layer_0.onnx: input "context" dim 2 is 32');
    expect(err.message).toContain('vae_decoder.onnx: output "frames" dim 3 is 32 but model.json video.height is 64');
    expect(err.message).not.toContain('video.width');
  });

  it('runs a decoder whose frame size is symbolic once, and names the file and video when it disagrees', async () => {
    // The bundled model's VAE decoder leaves height and width symbolic: the metadata cannot disagree.
    const dir = join(root, 'symbolic-video');
    await cp(defaultModelDir(), dir, { recursive: true });
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<string, any>;
    const { height, width } = json.video as { height: number; width: number };
    await expect(loadModelPackage(dir)).resolves.toBeDefined();
    json.video = { height: height / 2, width: width / 2 };
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_GRAPH_MISMATCH');
    expect(err.field).toBe('video');
    expect(err.file).toBe(join(dir, 'vae_decoder.onnx'));
    expect(err.message).toContain(`output "frames" is [1, ${json.framesPerBlock}, 3, ${height}, ${width}] for one block, but model.json video is ${height / 2}×${width / 2}`);
  });

  it('catches a graph with the wrong inputs (head file replaced by the embed graph)', async () => {
    const dir = await variant('swapped', () => {});
    await cp(join(built, 'embed.onnx'), join(dir, 'head.onnx'));
    const err = await failure(validateModelGraphs(dir, manifest));
    expect(err.code).toBe('E_MODEL_GRAPH_MISMATCH');
    expect(err.message).toContain('head.onnx: input "hidden" is missing');
    expect(err.message).toContain('head.onnx: output "flow" is missing');
    expect(err.issues.every((i) => i.file.endsWith('head.onnx'))).toBe(true);
  });

  it('checks a package again once a file changed after it passed (a pass is remembered per process)', async () => {
    const dir = await variant('changed-later', () => {});
    await validateModelGraphs(dir, manifest);
    await validateModelGraphs(dir, manifest);
    await cp(join(built, 'embed.onnx'), join(dir, 'head.onnx'));
    expect((await failure(validateModelGraphs(dir, manifest))).message).toContain('head.onnx: input "hidden" is missing');
    // Restored, with a new modification time: checked again, and it passes.
    await cp(join(built, 'head.onnx'), join(dir, 'head.onnx'));
    await validateModelGraphs(dir, manifest);
  });

  it('catches a layer whose kv and block graphs are named the other way round', async () => {
    const dir = await variant('old-layer', (j) => {
      // layer_0's kv graph named as its block graph, and the other way round.
      j.files.layered.layers[0] = { kv: 'layer_0.onnx', block: 'layer_0_kv.onnx' };
    });
    const err = await failure(loadModelPackage(dir));
    expect(err.code).toBe('E_MODEL_GRAPH_MISMATCH');
    expect(err.message).toContain(`${join(dir, 'layer_0_kv.onnx')}: input "key" is missing`);
    expect(err.message).toContain(`${join(dir, 'layer_0.onnx')}: output "key" is missing`);
    expect(err.message).toContain(`${join(dir, 'layer_0.onnx')}: input "key" is not part of the model contract`);
  });

  it('skips graph checks when asked', async () => {
    const dir = await variant('unchecked', (j) => { j.latent.channels = 8; });
    const pkg = await loadModelPackage(dir, { validateGraphs: false });
    expect(pkg.manifest.latent.channels).toBe(8);
  });
});

describe('tokenizePrompt', () => {
  const text = { vocabulary: DEFAULT_VOCABULARY, maxTokens: 8, contextDim: 64 };
  const ids = (a: BigInt64Array) => Array.from(a, Number);

  it('lower-cases, splits on non-letters and pads with 0', () => {
    expect(ids(tokenizePrompt('A red BALL, moving left!', text))).toEqual([17, 2, 9, 16, 12, 0, 0, 0]);
  });

  it('maps unknown words to 1 and never matches the special words', () => {
    expect(ids(tokenizePrompt('a zebra <pad> unk', text))).toEqual([17, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('truncates to maxTokens', () => {
    const out = tokenizePrompt('red green blue yellow purple orange white ball square', text);
    expect(out).toHaveLength(8);
    expect(ids(out)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids(tokenizePrompt('', text))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
