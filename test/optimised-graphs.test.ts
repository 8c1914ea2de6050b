/**
 * Optimised graphs kept across processes (`engine/model/optimised-graphs.ts`): a session from the
 * saved copy computes the same bytes as one from the package's file; a damaged entry, a cache
 * turned off or one that cannot be written never change what is computed; entries of files that
 * changed or are gone do not pile up. And a runtime's frames are the same with and without it.
 */
import { createHash } from 'node:crypto';
import { chmod, cp, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR_ENV } from '../src/engine/model/graph-check-cache.js';
import { createOptimised, optimisedGraphsDir } from '../src/engine/model/optimised-graphs.js';
import { createRuntime } from '../src/index.js';
import { RANDOM_MODEL } from './support/models.js';

const OPTIONS: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' };

/** Real sessions; the paths they were created from, in order. */
function recorder(): { readonly paths: string[]; readonly create: (path: string, options: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession> } {
  const paths: string[] = [];
  return { paths, create: (path, options) => (paths.push(path), ort.InferenceSession.create(path, options)) };
}

interface Manifest {
  framesPerBlock: number;
  tokensPerFrame: number;
  layers: number;
  heads: number;
  headDim: number;
  latent: { channels: number; height: number; width: number };
  text: { maxTokens: number; contextDim: number };
}

/** The SHA-256 of every output of the denoiser on fixed inputs (three frames of noise after six of past). */
async function outputsOf(session: ort.InferenceSession, m: Manifest): Promise<Record<string, string>> {
  let state = 7;
  const floats = (n: number) => Float32Array.from({ length: n }, () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
  const frames = m.framesPerBlock;
  const past = 6 * m.tokensPerFrame;
  const queries = frames * m.tokensPerFrame;
  const feeds: Record<string, ort.Tensor> = {
    latents: new ort.Tensor('float32', floats(frames * m.latent.channels * m.latent.height * m.latent.width), [1, frames, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: new ort.Tensor('float32', new Float32Array(frames).fill(500), [1, frames]),
    frame_positions: new ort.Tensor('float32', Float32Array.from({ length: frames }, (_, i) => 6 + i), [1, frames]),
    context: new ort.Tensor('float32', floats(m.text.maxTokens * m.text.contextDim), [1, m.text.maxTokens, m.text.contextDim]),
    past_key: new ort.Tensor('float32', floats(m.layers * m.heads * past * m.headDim), [m.layers, 1, m.heads, past, m.headDim]),
    past_value: new ort.Tensor('float32', floats(m.layers * m.heads * past * m.headDim), [m.layers, 1, m.heads, past, m.headDim]),
  };
  if (session.inputNames.includes('attention_mask')) feeds['attention_mask'] = new ort.Tensor('float32', new Float32Array(queries * (past + queries)), [1, 1, queries, past + queries]);
  const out = await session.run(feeds);
  return Object.fromEntries(session.outputNames.map((name) => {
    const data = out[name]?.data as Float32Array;
    return [name, createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex')];
  }));
}

describe('optimised graphs kept across processes', () => {
  let root: string;
  let pkg: string;
  let manifest: Manifest;
  let reference: Record<string, string>;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bc-optimised-'));
    pkg = join(root, 'pkg');
    await cp(RANDOM_MODEL, pkg, { recursive: true });
    manifest = JSON.parse(await readFile(join(pkg, 'model.json'), 'utf8')) as Manifest;
    reference = await outputsOf(await ort.InferenceSession.create(join(pkg, 'denoiser.onnx'), OPTIONS), manifest);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const envIn = (name: string) => ({ [CACHE_DIR_ENV]: join(root, name) });
  const entriesIn = async (env: NodeJS.ProcessEnv) => readdir(optimisedGraphsDir(env) as string).catch(() => [] as string[]);

  it('saves the optimised graph on the first creation and loads it on the next, with the same outputs', async () => {
    const env = envIn('first');
    const file = join(pkg, 'denoiser.onnx');
    const first = recorder();
    expect(await outputsOf(await createOptimised(file, OPTIONS, first.create, ort.env.versions.common, env), manifest)).toEqual(reference);
    expect(first.paths).toEqual([file]);
    const [entry, ...more] = await entriesIn(env);
    expect(more).toEqual([]);
    const dir = join(optimisedGraphsDir(env) as string, entry as string);
    expect((await readdir(dir)).sort()).toEqual(['entry.json', 'graph.data', 'graph.onnx']);
    const second = recorder();
    expect(await outputsOf(await createOptimised(file, OPTIONS, second.create, ort.env.versions.common, env), manifest)).toEqual(reference);
    expect(second.paths).toEqual([join(dir, 'graph.onnx')]);
  });

  it('makes a damaged entry again: files of other sizes, or a graph ONNX Runtime cannot load', async () => {
    const env = envIn('damaged');
    const file = join(pkg, 'denoiser.onnx');
    await createOptimised(file, OPTIONS, recorder().create, ort.env.versions.common, env);
    const dir = join(optimisedGraphsDir(env) as string, (await entriesIn(env))[0] as string);
    const data = join(dir, 'graph.data');
    await truncate(data, (await stat(data)).size - 4);
    const cut = recorder();
    expect(await outputsOf(await createOptimised(file, OPTIONS, cut.create, ort.env.versions.common, env), manifest)).toEqual(reference);
    expect(cut.paths).toEqual([file]);
    // Same size, garbage inside: its sizes pass, ONNX Runtime refuses it.
    const graph = join(dir, 'graph.onnx');
    await writeFile(graph, Buffer.alloc((await stat(graph)).size, 0xff));
    const garbled = recorder();
    expect(await outputsOf(await createOptimised(file, OPTIONS, garbled.create, ort.env.versions.common, env), manifest)).toEqual(reference);
    expect(garbled.paths).toEqual([graph, file]);
    const again = recorder();
    await createOptimised(file, OPTIONS, again.create, ort.env.versions.common, env);
    expect(again.paths).toEqual([graph]);
  });

  it('an empty cache setting keeps nothing; a folder that cannot be written still gives the session', async () => {
    const off = recorder();
    expect(await outputsOf(await createOptimised(join(pkg, 'denoiser.onnx'), OPTIONS, off.create, ort.env.versions.common, { [CACHE_DIR_ENV]: '' }), manifest)).toEqual(reference);
    expect(off.paths).toEqual([join(pkg, 'denoiser.onnx')]);
    const locked = join(root, 'locked');
    await writeFile(locked, 'a file where the folder should be');
    const blocked = recorder();
    expect(await outputsOf(await createOptimised(join(pkg, 'denoiser.onnx'), OPTIONS, blocked.create, ort.env.versions.common, { [CACHE_DIR_ENV]: locked }), manifest)).toEqual(reference);
    expect(blocked.paths).toEqual([join(pkg, 'denoiser.onnx')]);
    if (process.getuid?.() !== 0) {
      // Not as root, whom permissions do not stop.
      const readOnly = join(root, 'read-only');
      await createOptimised(join(pkg, 'vae_decoder.onnx'), OPTIONS, recorder().create, ort.env.versions.common, { [CACHE_DIR_ENV]: readOnly });
      await chmod(join(readOnly, 'optimised'), 0o500);
      await createOptimised(join(pkg, 'denoiser.onnx'), OPTIONS, recorder().create, ort.env.versions.common, { [CACHE_DIR_ENV]: readOnly });
    }
  });

  it('saving an entry removes those of an older version of the file and of files that are gone', async () => {
    const env = envIn('prune');
    const gone = join(root, 'gone');
    await cp(pkg, gone, { recursive: true });
    await createOptimised(join(gone, 'text_encoder.onnx'), OPTIONS, recorder().create, ort.env.versions.common, env);
    await rm(gone, { recursive: true });
    const file = join(pkg, 'vae_decoder.onnx');
    await createOptimised(file, OPTIONS, recorder().create, ort.env.versions.common, env);
    const [kept, ...others] = await entriesIn(env);
    expect(others).toEqual([]);
    // The same file changed since: a new key; its old entry goes.
    const later = new Date(Date.now() + 60_000);
    await utimes(file, later, later);
    const changed = recorder();
    await createOptimised(file, OPTIONS, changed.create, ort.env.versions.common, env);
    expect(changed.paths).toEqual([file]);
    const now = await entriesIn(env);
    expect(now).toHaveLength(1);
    expect(now).not.toContain(kept);
  });

  it("a runtime's frames are the same bytes from the optimised graphs and from the package's", async () => {
    const frames = async () => {
      const runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 1 });
      try {
        const hash = createHash('sha256');
        for await (const frame of runtime.generate({ seed: 5, blocks: 3, prompt: 'red ball moving left' })) hash.update(frame.rgb);
        return hash.digest('hex');
      } finally {
        await runtime.close();
      }
    };
    const saved = process.env[CACHE_DIR_ENV];
    try {
      process.env[CACHE_DIR_ENV] = '';
      const plain = await frames();
      process.env[CACHE_DIR_ENV] = join(root, 'runtime');
      expect(await frames()).toBe(plain); // saving
      expect((await entriesIn({ [CACHE_DIR_ENV]: join(root, 'runtime') })).length).toBeGreaterThanOrEqual(3);
      expect(await frames()).toBe(plain); // loading
    } finally {
      process.env[CACHE_DIR_ENV] = saved;
    }
  });
});
