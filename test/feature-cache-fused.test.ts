/**
 * The fused forward of feature caching (`src/engine/model/fused-graph.ts`): the merged graph
 * gives the layered chain's flow, K/V and layer inputs on both bundled packages (one built by
 * the model builder, one exported from PyTorch with arbitrary inner names); with caching on and
 * a threshold that never triggers, the fused ticks make caching off's frames and repeat byte for
 * byte; a layered graph that lacks a contract output fails with the loader's typed error.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import { loadModelPackage } from '../src/engine/model/loader.js';
import { buildFusedGraph, buildReuseGraph, FUSED_IO, REUSE_IO } from '../src/engine/model/fused-graph.js';
import { buildReuseRunGraph, REUSE_RUN_IO } from '../src/engine/model/reuse-run-graph.js';
import { samplerStep } from '../src/core/sampler.js';
import { ModelPackageError } from '../src/engine/model/errors.js';
import type { ModelManifest } from '../src/core/manifest-types.js';
import type { TraceRecord } from '../src/core/trace-records.js';
import { ROOT } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';

const SPRITES = join(ROOT, 'models', 'sprites');
const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' };

/** A deterministic pseudo-random fill in [−1, 1). */
function filled(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
const data = (outputs: ort.InferenceSession.OnnxValueMapType, name: string) => (outputs[name] as ort.Tensor).data as Float32Array;

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/** Two blocks after a two-frame past, bidirectional within the call (the mask is all zeros). */
async function compare(dir: string): Promise<{ flow: number; key: number; value: number; inputs: number; out: number }> {
  const pkg = await loadModelPackage(dir, { validateGraphs: false });
  const m: ModelManifest = pkg.manifest;
  const frames = 2 * m.framesPerBlock;
  const past = 2;
  const n = frames * m.tokensPerFrame;
  const T = past * m.tokensPerFrame;
  const latentDims = [1, frames, m.latent.channels, m.latent.height, m.latent.width];
  const latents = tensor(filled(latentDims.reduce((a, b) => a * b, 1), 1), latentDims);
  const timesteps = tensor(Float32Array.from({ length: frames }, (_, i) => (i < m.framesPerBlock ? 750 : 500)), [1, frames]);
  const positions = tensor(Float32Array.from({ length: frames }, (_, i) => past + i), [1, frames]);
  const context = tensor(filled(m.text.maxTokens * m.text.contextDim, 2), [1, m.text.maxTokens, m.text.contextDim]);
  const layerKv = m.heads * T * m.headDim;
  const pastKey = filled(m.layers * layerKv, 3);
  const pastValue = filled(m.layers * layerKv, 4);
  const mask = tensor(new Float32Array(n * (T + n)), [1, 1, n, T + n]);

  const fused = await ort.InferenceSession.create(await buildFusedGraph(m, pkg.paths.layered), options);
  const f = await fused.run({
    latents, timesteps, frame_positions: positions, context, attention_mask: mask,
    past_key: tensor(pastKey, [m.layers, 1, m.heads, T, m.headDim]),
    past_value: tensor(pastValue, [m.layers, 1, m.heads, T, m.headDim]),
  });

  // The layered chain as the runtime runs it, past and own K/V joined along the tokens.
  const open = (file: string) => ort.InferenceSession.create(file, options);
  const embed = await (await open(pkg.paths.layered.embed)).run({ latents, timesteps });
  const temb = embed['time_embedding'] as ort.Tensor;
  let hidden = embed['hidden'] as ort.Tensor;
  const diffs = { key: 0, value: 0, inputs: 0 };
  const ownKv = m.heads * n * m.headDim;
  for (let l = 0; l < m.layers; l++) {
    diffs.inputs = Math.max(diffs.inputs, maxDiff(data(f, FUSED_IO.layerInputs).subarray(l * n * m.width, (l + 1) * n * m.width), hidden.data as Float32Array));
    const kv = await (await open(pkg.paths.layered.keyValues[l] as string)).run({ hidden, time_embedding: temb, frame_positions: positions });
    const joined = (pastAll: Float32Array, own: Float32Array) => {
      const out = new Float32Array(m.heads * (T + n) * m.headDim);
      for (let h = 0; h < m.heads; h++) {
        out.set(pastAll.subarray(l * layerKv + h * T * m.headDim, l * layerKv + (h + 1) * T * m.headDim), h * (T + n) * m.headDim);
        out.set(own.subarray(h * n * m.headDim, (h + 1) * n * m.headDim), (h * (T + n) + T) * m.headDim);
      }
      return tensor(out, [1, m.heads, T + n, m.headDim]);
    };
    diffs.key = Math.max(diffs.key, maxDiff(data(f, FUSED_IO.presentKey).subarray(l * ownKv, (l + 1) * ownKv), data(kv, 'key')));
    diffs.value = Math.max(diffs.value, maxDiff(data(f, FUSED_IO.presentValue).subarray(l * ownKv, (l + 1) * ownKv), data(kv, 'value')));
    const out = await (await open(pkg.paths.layered.layers[l] as string)).run({
      hidden, time_embedding: temb, frame_positions: positions, context,
      key: joined(pastKey, data(kv, 'key')), value: joined(pastValue, data(kv, 'value')), attention_mask: mask,
    });
    hidden = out['hidden_out'] as ort.Tensor;
  }
  const head = await (await open(pkg.paths.layered.head)).run({ hidden, time_embedding: temb, latents, timesteps });
  return { flow: maxDiff(data(f, FUSED_IO.flow), data(head, 'flow')), ...diffs, out: maxDiff(data(f, FUSED_IO.hiddenOut), hidden.data as Float32Array) };
}

describe('fused forward graph', () => {
  for (const [name, dir] of [['random (model builder)', RANDOM_MODEL], ['sprites (PyTorch export)', SPRITES]] as const) {
    it(`${name}: flow, K/V, layer inputs and the stack's output equal the layered chain's within 1e-5`, async () => {
      const d = await compare(dir);
      for (const [what, diff] of Object.entries(d)) expect(diff, what).toBeLessThanOrEqual(1e-5);
    });
  }

  it('the merged graph, its common subexpressions computed once, has no more nodes than the monolithic denoiser', async () => {
    for (const dir of [RANDOM_MODEL, SPRITES]) {
      const pkg = await loadModelPackage(dir, { validateGraphs: false });
      const nodes = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes).graph?.node?.length ?? 0;
      const fused = nodes(await buildFusedGraph(pkg.manifest, pkg.paths.layered));
      expect(fused, dir).toBeGreaterThan(0);
      expect(fused, dir).toBeLessThanOrEqual(nodes(await readFile(pkg.paths.denoiser)));
    }
  });

  it('the reuse graph gives head(embed + residual) and the embedding, bit for bit, on both packages', async () => {
    for (const dir of [RANDOM_MODEL, SPRITES]) {
      const pkg = await loadModelPackage(dir, { validateGraphs: false });
      const m = pkg.manifest;
      const frames = 2 * m.framesPerBlock;
      const n = frames * m.tokensPerFrame;
      const latentDims = [1, frames, m.latent.channels, m.latent.height, m.latent.width];
      const latents = tensor(filled(latentDims.reduce((a, b) => a * b, 1), 7), latentDims);
      const timesteps = tensor(Float32Array.from({ length: frames }, (_, i) => 250 + i), [1, frames]);
      const residual = filled(n * m.width, 8);
      const reuse = await ort.InferenceSession.create(await buildReuseGraph(m, pkg.paths.layered), options);
      const r = await reuse.run({ latents, timesteps, [REUSE_IO.residual]: tensor(residual, [1, n, m.width]) });
      const e = await (await ort.InferenceSession.create(pkg.paths.layered.embed, options)).run({ latents, timesteps });
      const embedded = data(e, 'hidden');
      const headInput = embedded.map((v, i) => v + (residual[i] as number));
      const h = await (await ort.InferenceSession.create(pkg.paths.layered.head, options)).run({ hidden: tensor(headInput, [1, n, m.width]), time_embedding: e['time_embedding'] as ort.Tensor, latents, timesteps });
      expect(maxDiff(data(r, REUSE_IO.hidden), embedded), dir).toBe(0);
      expect(maxDiff(data(r, REUSE_IO.flow), data(h, 'flow')), dir).toBe(0);
    }
  });

  it('a run of reused steps in one graph makes the bytes of one reuse call and sampler update per step (euler and re-noising)', async () => {
    for (const [dir, update] of [[SPRITES, 'euler'], [RANDOM_MODEL, 'renoise']] as const) {
      const pkg = await loadModelPackage(dir, { validateGraphs: false });
      const m = pkg.manifest;
      const F = m.framesPerBlock;
      const dims = [1, F, m.latent.channels, m.latent.height, m.latent.width];
      const size = dims.reduce((a, b) => a * b, 1);
      const residual = tensor(filled(F * m.tokensPerFrame * m.width, 9), [1, F * m.tokensPerFrame, m.width]);
      const sigmas = [0.81, 0.74, 0.6, 0.52];
      const steps = sigmas.length - 1;
      const noises = sigmas.slice(1).map((_, i) => filled(size, 20 + i));
      const timestepsOf = (i: number) => tensor(new Float32Array(F).fill(sigmas[i]! * 1000), [1, F]);
      const reuse = await ort.InferenceSession.create(await buildReuseGraph(m, pkg.paths.layered), options);
      let x = filled(size, 10);
      const start = x;
      for (let i = 0; i < steps; i++) {
        const r = await reuse.run({ latents: tensor(x, dims), timesteps: timestepsOf(i), [REUSE_IO.residual]: residual });
        x = samplerStep(x, data(r, REUSE_IO.flow), sigmas[i]!, sigmas[i + 1]!, update === 'renoise' ? noises[i]! : null, new Float32Array(size), update);
      }
      const run = await ort.InferenceSession.create(await buildReuseRunGraph(m, pkg.paths.layered, steps, update), options);
      const scalar = (v: number) => new ort.Tensor('float64', Float64Array.of(v), []);
      const feeds: Record<string, ort.Tensor> = { [REUSE_RUN_IO.latents]: tensor(start, dims), [REUSE_RUN_IO.residual]: residual };
      for (let i = 0; i < steps; i++) {
        feeds[REUSE_RUN_IO.timesteps(i)] = timestepsOf(i);
        if (update === 'euler') {
          feeds[REUSE_RUN_IO.dt(i)] = scalar(sigmas[i + 1]! - sigmas[i]!);
        } else {
          Object.assign(feeds, { [REUSE_RUN_IO.sigma(i)]: scalar(sigmas[i]!), [REUSE_RUN_IO.keep(i)]: scalar(1 - sigmas[i + 1]!), [REUSE_RUN_IO.sigmaNext(i)]: scalar(sigmas[i + 1]!), [REUSE_RUN_IO.noise(i)]: tensor(noises[i]!, dims) });
        }
      }
      const out = data(await run.run(feeds), REUSE_RUN_IO.latentsOut);
      expect(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(Buffer.from(x.buffer)), dir).toBe(true);
      expect(maxDiff(out, start), dir).toBeGreaterThan(0);
    }
  });

  it('weights kept in an external data file are read into the merged graph', async () => {
    const pkg = await loadModelPackage(RANDOM_MODEL, { validateGraphs: false });
    const m = pkg.manifest;
    const dir = await mkdtemp(join(tmpdir(), 'bc-fused-ext-'));
    try {
      const { onnx } = onnxProto;
      const model = onnx.ModelProto.decode(await readFile(pkg.paths.layered.layers[0] as string));
      const chunks: Uint8Array[] = [];
      let offset = 0;
      for (const t of model.graph?.initializer ?? []) {
        // Only raw-data tensors move out (what exporters write); others stay inline.
        if (!t.rawData || t.rawData.length === 0) continue;
        t.externalData = [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(t.rawData.length) }];
        t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        chunks.push(t.rawData);
        offset += t.rawData.length;
        t.rawData = new Uint8Array(0);
      }
      expect(offset).toBeGreaterThan(0);
      await writeFile(join(dir, 'weights.bin'), Buffer.concat(chunks));
      const moved = join(dir, 'layer_0.onnx');
      await writeFile(moved, onnx.ModelProto.encode(model).finish());
      const frames = m.framesPerBlock;
      const n = frames * m.tokensPerFrame;
      const latentDims = [1, frames, m.latent.channels, m.latent.height, m.latent.width];
      const feeds = {
        latents: tensor(filled(latentDims.reduce((a, b) => a * b, 1), 9), latentDims),
        timesteps: tensor(new Float32Array(frames).fill(500), [1, frames]),
        frame_positions: tensor(Float32Array.from({ length: frames }, (_, i) => i), [1, frames]),
        context: tensor(filled(m.text.maxTokens * m.text.contextDim, 10), [1, m.text.maxTokens, m.text.contextDim]),
        past_key: tensor(new Float32Array(0), [m.layers, 1, m.heads, 0, m.headDim]),
        past_value: tensor(new Float32Array(0), [m.layers, 1, m.heads, 0, m.headDim]),
        attention_mask: tensor(new Float32Array(n * n), [1, 1, n, n]),
      };
      const run = async (layers: readonly string[]) => (await ort.InferenceSession.create(await buildFusedGraph(m, { ...pkg.paths.layered, layers }), options)).run(feeds);
      const inline = await run(pkg.paths.layered.layers);
      const external = await run(pkg.paths.layered.layers.map((f, i) => (i === 0 ? moved : f)));
      expect(maxDiff(data(external, FUSED_IO.flow), data(inline, FUSED_IO.flow))).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a layered graph without a contract output fails with E_MODEL_GRAPH_MISMATCH naming the file and the output', async () => {
    const pkg = await loadModelPackage(RANDOM_MODEL, { validateGraphs: false });
    const dir = await mkdtemp(join(tmpdir(), 'bc-fused-'));
    try {
      const { onnx } = onnxProto;
      const model = onnx.ModelProto.decode(await readFile(pkg.paths.layered.keyValues[1] as string));
      const graph = model.graph as NonNullable<typeof model.graph>;
      graph.output = (graph.output ?? []).filter((o) => o.name !== 'value');
      const broken = join(dir, 'layer_1_kv.onnx');
      await writeFile(broken, onnx.ModelProto.encode(model).finish());
      const keyValues = pkg.paths.layered.keyValues.map((f, i) => (i === 1 ? broken : f));
      const error = await buildFusedGraph(pkg.manifest, { ...pkg.paths.layered, keyValues }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelPackageError);
      expect(error).toMatchObject({ code: 'E_MODEL_GRAPH_MISMATCH', file: broken, field: 'value' });
      expect((error as Error).message).toContain(`${broken}: output "value" is missing`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('fused ticks on a lane', () => {
  const STEPS = 8;
  const request = { seed: 5, blocks: 3, prompt: 'red ball moving left' };
  let runtime: Runtime;
  let layeredOnly: Runtime;
  beforeAll(async () => {
    [runtime, layeredOnly] = await Promise.all([createRuntime({ lanes: 1, model: SPRITES }), createRuntime({ lanes: 1, model: SPRITES, fusedForward: false })]);
  });
  afterAll(async () => {
    await Promise.all([runtime?.close(), layeredOnly?.close()]);
  });

  /** The frames, and each share's per-layer barrier waits (a fused share has no barrier). */
  const run = async (on: Runtime, featureCache?: { policy: 'bwcache'; threshold: number }, parallelism: 0 | 4 = 0): Promise<{ frames: Frame[]; layerWaits: number[] }> => {
    const frames: Frame[] = [];
    const layerWaits: number[] = [];
    const trace = (r: TraceRecord) => {
      if (r.kind === 'lane' && r.phase === 'end' && r.task === 'share') layerWaits.push(r.layerWaitsMs?.length ?? -1);
    };
    for await (const frame of on.generate(request, { steps: STEPS, cascade: { parallelism, ...(featureCache ? { exec: 'layered' } : { exec: 'joint' }) }, trace, ...(featureCache ? { featureCache } : {}) })) frames.push(frame);
    return { frames, layerWaits };
  };
  const generate = async (...args: Parameters<typeof run>) => (await run(...args)).frames;
  const largest = (a: readonly Frame[], b: readonly Frame[]) => {
    expect(a.length).toBe(b.length);
    let max = 0;
    a.forEach((f, i) => f.rgb.forEach((v, k) => (max = Math.max(max, Math.abs(v - ((b[i] as Frame).rgb[k] as number))))));
    return max;
  };

  it('P0, δ = 0.15 (triggers): computed and reused ticks run fused and make the layered chain\'s frames within 1/255, the same reuses', async () => {
    const bwcache = { policy: 'bwcache', threshold: 0.15 } as const;
    const before = { fused: runtime.stats(), chain: layeredOnly.stats() };
    const fusedRun = await run(runtime, bwcache);
    const layeredRun = await run(layeredOnly, bwcache);
    const reused = { fused: runtime.stats().reusedForwards - before.fused.reusedForwards, chain: layeredOnly.stats().reusedForwards - before.chain.reusedForwards };
    expect(reused.fused).toBeGreaterThan(0);
    expect(reused.fused).toBe(reused.chain);
    expect(new Set(fusedRun.layerWaits)).toEqual(new Set([0]));
    expect(new Set(layeredRun.layerWaits)).toEqual(new Set([4]));
    expect(largest(fusedRun.frames, layeredRun.frames)).toBeLessThanOrEqual(1);
  });

  it('P4, δ = 0.15: ticks mixing computing and reusing members run in two calls (no layer barrier) and make the layered chain\'s frames within 1/255, the same reuses, byte for byte twice', async () => {
    const bwcache = { policy: 'bwcache', threshold: 0.15 } as const;
    const mixedTicks: number[] = [];
    const before = { fused: runtime.stats(), chain: layeredOnly.stats() };
    const frames: Frame[] = [];
    const trace = (r: TraceRecord) => {
      if (r.kind === 'lane' && r.phase === 'end' && r.task === 'share') {
        mixedTicks.push(r.reused !== undefined && r.reused.length < r.blocks.length ? r.layerWaitsMs?.length ?? -1 : -2);
      }
    };
    for await (const frame of runtime.generate(request, { steps: STEPS, cascade: { parallelism: 4, exec: 'layered' }, featureCache: bwcache, trace })) frames.push(frame);
    const again = await generate(runtime, bwcache, 4);
    const chain = await run(layeredOnly, bwcache, 4);
    const reused = { fused: runtime.stats().reusedForwards - before.fused.reusedForwards, chain: layeredOnly.stats().reusedForwards - before.chain.reusedForwards };
    // Mixed ticks happened, and each ran without a layer barrier (0 waits recorded).
    const mixed = mixedTicks.filter((w) => w !== -2);
    expect(mixed.length).toBeGreaterThan(0);
    expect(new Set(mixed)).toEqual(new Set([0]));
    expect(reused.fused).toBe(2 * reused.chain);
    expect(largest(frames, again)).toBe(0);
    expect(largest(frames, chain.frames)).toBeLessThanOrEqual(1);
  });

  for (const parallelism of [0, 4] as const) {
    it(`P${parallelism}: caching on with δ = 0 (every step computed, fused) makes caching off's frames within 1/255, the layered chain's, and repeats byte for byte`, async () => {
      const never = { policy: 'bwcache', threshold: 0 } as const;
      const before = runtime.stats();
      const fusedRun = await run(runtime, never, parallelism);
      const fusedA = fusedRun.frames;
      const after = runtime.stats();
      expect(after.reusedForwards - before.reusedForwards).toBe(0);
      const fusedB = await generate(runtime, never, parallelism);
      const off = await generate(runtime, undefined, parallelism);
      const layeredRun = await run(layeredOnly, never, parallelism);
      const layered = layeredRun.frames;
      // Every share ran fused on one runtime and through the layer chain on the other.
      expect(new Set(fusedRun.layerWaits)).toEqual(new Set([0]));
      expect(new Set(layeredRun.layerWaits)).toEqual(new Set([4]));
      expect(fusedA).toHaveLength(request.blocks * 3);
      expect(largest(fusedA, fusedB)).toBe(0);
      expect(largest(fusedA, off)).toBeLessThanOrEqual(1);
      expect(largest(fusedA, layered)).toBeLessThanOrEqual(1);
    });
  }
});
