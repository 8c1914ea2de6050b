import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, buildModelPackage } from '../tools/model-builder/build.js';
import { DEFAULT_VOCABULARY } from '../tools/model-builder/config.js';
import { fromFloat16Bits, toFloat16Bits } from '../tools/model-builder/float16.js';
import { buildAttentionMask, MASK_HIDDEN } from '../src/engine/model/attention-mask.js';
import type { ModelManifest } from '../src/core/manifest-types.js';
import { gaussianNoise } from '../src/core/noise.js';
import { allFinite, f32, Harness, maskRows, maxAbsDiff, open, rms, run, type Feeds, type Outputs } from './helpers/model-harness.js';

const noise = (n: number, block: number) => gaussianNoise({ seed: 99, block, step: 0 }, new Float32Array(n));

/** Frames [from, to) of a [1, F, …] per-frame tensor. */
const frames = (a: Float32Array, frameSize: number, from: number, to: number) => a.slice(from * frameSize, to * frameSize);

/** Tokens [from, to) of a [L, 1, heads, N, headDim] K/V tensor. */
function kvTokens(a: Float32Array, m: ModelManifest, N: number, from: number, to: number): Float32Array {
  const out: number[] = [];
  for (let l = 0; l < m.layers; l++) {
    for (let h = 0; h < m.heads; h++) {
      const base = ((l * m.heads + h) * N) * m.headDim;
      out.push(...a.subarray(base + from * m.headDim, base + to * m.headDim));
    }
  }
  return Float32Array.from(out);
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bc-builder-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('float16 storage', () => {
  it('rounds to nearest and round-trips exactly representable values', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, -(2 ** -14)]) expect(fromFloat16Bits(toFloat16Bits(v))).toBe(v);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(toFloat16Bits(1)); // tie → even
    expect(toFloat16Bits(1e6)).toBe(0x7c00); // overflow → +inf
    expect(Math.abs(fromFloat16Bits(toFloat16Bits(0.1)) - 0.1)).toBeLessThan(1e-4);
  });
});

describe('model builder: determinism', () => {
  it('building twice gives byte-identical files, and another seed changes the weights', async () => {
    const a = buildModel({ layers: 2, width: 64 });
    const dir = join(root, 'twice');
    await buildModelPackage(dir, { layers: 2, width: 64 });
    expect([...a.files.keys()].sort()).toEqual((await readdir(dir)).sort());
    for (const [name, bytes] of a.files) {
      expect(Buffer.from(await readFile(join(dir, name))).equals(Buffer.from(bytes)), name).toBe(true);
    }
    const other = buildModel({ layers: 2, width: 64, seed: 7 });
    expect(Buffer.from(other.files.get('denoiser.onnx') as Uint8Array).equals(Buffer.from(a.files.get('denoiser.onnx') as Uint8Array))).toBe(false);
  });

  it('the committed models/random is what the builder makes from the default config', async () => {
    const built = buildModel();
    for (const [name, bytes] of built.files) {
      const committed = await readFile(join('models/random', name));
      expect(committed.equals(Buffer.from(bytes)), `models/random/${name} is stale: run the model builder`).toBe(true);
    }
  });

  it('rejects sizes that do not fit together', () => {
    expect(() => buildModel({ width: 100, heads: 3 })).toThrow(RangeError);
    expect(() => buildModel({ latentHeight: 7 })).toThrow(/multiple of patchSize/);
  });
});

describe('model builder: the default model', () => {
  let m: ModelManifest;
  let h: Harness;
  const dir = () => join(root, 'default');

  beforeAll(async () => {
    m = await buildModelPackage(dir());
    h = await Harness.open(dir(), m);
  });
  afterAll(async () => {
    await h.release();
  });

  it('writes the manifest the contract describes', async () => {
    const json = JSON.parse(await readFile(join(dir(), 'model.json'), 'utf8')) as ModelManifest;
    expect(json).toEqual(m);
    expect(m.tokensPerFrame).toBe(16);
    expect(m.headDim).toBe(32);
    expect(m.format).toBe('block-cascade/model@2');
    expect(m.files.layered.layers).toEqual([0, 1, 2, 3].map((i) => ({ kv: `layer_${i}_kv.onnx`, block: `layer_${i}.onnx` })));
    expect(m.sampler).toEqual({ shift: 5, timesteps: [1000, 750, 500, 250], warp: true });
    expect(m.text.vocabulary).toEqual(DEFAULT_VOCABULARY);
  });

  it('the layered chain equals the monolithic denoiser (batch 2, with past, a non-trivial mask)', async () => {
    const B = 2, F = 3, T = 2 * m.tokensPerFrame, N = F * m.tokensPerFrame;
    const kv = m.layers * B * m.heads * T * m.headDim;
    // Hide a scattered set of keys (past and present), different per batch row; never a whole row.
    const mask = new Float32Array(B * N * (T + N));
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < N; q++) {
        for (let k = 0; k < T + N; k++) if ((q + 3 * k + b) % 4 === 0) mask[(b * N + q) * (T + N) + k] = MASK_HIDDEN;
      }
    }
    const feeds = h.inputs({
      B,
      latents: noise(B * F * h.frameSize, 1),
      timesteps: [1000, 1000, 1000, 625, 625, 625],
      positions: [2, 3, 4, 7, 8, 9],
      context: noise(B * m.text.maxTokens * m.text.contextDim, 2),
      pastKey: noise(kv, 3),
      pastValue: noise(kv, 4),
      T,
      mask,
    });
    const mono = await h.monolithic(feeds);
    const chain = await h.layered(feeds);
    for (const k of ['flow', 'present_key', 'present_value'] as const) {
      expect(allFinite(mono[k] as Float32Array), k).toBe(true);
      expect(maxAbsDiff(mono[k] as Float32Array, chain[k] as Float32Array), k).toBeLessThan(1e-5);
    }
    expect(mono.present_key?.length).toBe(m.layers * B * m.heads * F * m.tokensPerFrame * m.headDim);
    // The mask matters: without it the flow differs.
    const open = await h.monolithic({ ...feeds, attention_mask: f32(new Float32Array(mask.length), [B, 1, N, T + N]) });
    expect(maxAbsDiff(open.flow as Float32Array, mono.flow as Float32Array)).toBeGreaterThan(1e-3);
  });

  describe('two lanes: a 2-block call (6 frames) split into frames 0–3 and 4–5 equals the monolithic call', () => {
    for (const mode of ['bidirectional', 'causal'] as const) {
      it(`${mode} (with past)`, async () => {
        const F = 6, tpf = m.tokensPerFrame, T = 3 * tpf;
        const kv = m.layers * m.heads * T * m.headDim;
        const blocks = [4, 4, 4, 5, 5, 5].map((block) => ({ block }));
        const mask = buildAttentionMask({ pastTokens: T, queryFrames: blocks, keyFrames: blocks, tokensPerFrame: tpf, mode });
        expect(mask.some((v) => v !== 0)).toBe(mode === 'causal');
        const feeds = h.inputs({
          B: 1,
          latents: noise(F * h.frameSize, 40),
          timesteps: [625, 625, 625, 937.5, 937.5, 937.5],
          positions: [12, 13, 14, 15, 16, 17],
          context: noise(m.text.maxTokens * m.text.contextDim, 41),
          pastKey: noise(kv, 42),
          pastValue: noise(kv, 43),
          T,
          mask,
        });
        // Each lane's rows of the joint mask are what the helper gives for its queries alone.
        const lane1 = buildAttentionMask({ pastTokens: T, queryFrames: blocks.slice(4), keyFrames: blocks, tokensPerFrame: tpf, mode });
        expect(lane1).toEqual(maskRows(mask, T + F * tpf, 4 * tpf, 6 * tpf));
        const mono = await h.monolithic(feeds);
        const lanes = await h.split(feeds, [[0, 4], [4, 6]]);
        for (const k of ['flow', 'present_key', 'present_value'] as const) {
          expect(maxAbsDiff(mono[k] as Float32Array, lanes[k] as Float32Array), k).toBeLessThan(1e-5);
        }
      });
    }
  });

  it('outputs are finite and well scaled; the past is used', async () => {
    const F = 3;
    const common = { B: 1, latents: noise(F * h.frameSize, 5), positions: [3, 4, 5], context: noise(m.text.maxTokens * m.text.contextDim, 6) };
    const noisy = await h.monolithic(h.inputs({ ...common, timesteps: [1000, 1000, 1000] }));
    const flow = noisy.flow as Float32Array;
    expect(allFinite(flow)).toBe(true);
    expect(rms(flow)).toBeGreaterThan(0.3);
    expect(rms(flow)).toBeLessThan(5);
    expect(rms(noisy.present_key as Float32Array)).toBeGreaterThan(0.3);
    expect(rms(noisy.present_key as Float32Array)).toBeLessThan(5);
    // The cache step (t = 0) divides by the 0.05 floor, never by zero.
    const clean = await h.monolithic(h.inputs({ ...common, timesteps: [0, 0, 0] }));
    expect(allFinite(clean.flow as Float32Array)).toBe(true);
    // A past changes the result (attention reads it).
    const T = m.tokensPerFrame;
    const kv = m.layers * m.heads * T * m.headDim;
    const withPast = await h.monolithic(h.inputs({ ...common, timesteps: [1000, 1000, 1000], T, pastKey: noise(kv, 7), pastValue: noise(kv, 8) }));
    expect(maxAbsDiff(withPast.flow as Float32Array, flow)).toBeGreaterThan(1e-3);
  });

  it('attention depends only on frame offsets: shifting every position changes keys but not the flow', async () => {
    const F = 3;
    const ctx = noise(m.text.maxTokens * m.text.contextDim, 9);
    const block1 = noise(F * h.frameSize, 10);
    const block2 = noise(F * h.frameSize, 11);
    const flowOfBlock2 = async (shift: number) => {
      const first = await h.monolithic(h.inputs({ B: 1, latents: block1, timesteps: [0, 0, 0], positions: [0, 1, 2].map((p) => p + shift), context: ctx }));
      const second = await h.monolithic(h.inputs({
        B: 1, latents: block2, timesteps: [750, 750, 750], positions: [3, 4, 5].map((p) => p + shift), context: ctx,
        T: F * m.tokensPerFrame, pastKey: first.present_key as Float32Array, pastValue: first.present_value as Float32Array,
      }));
      return { key: first.present_key as Float32Array, flow: second.flow as Float32Array };
    };
    const a = await flowOfBlock2(0);
    const b = await flowOfBlock2(10);
    expect(maxAbsDiff(a.key, b.key)).toBeGreaterThan(1e-2); // keys carry absolute rotations
    expect(maxAbsDiff(a.flow, b.flow)).toBeLessThan(1e-4); // attention sees only differences
  });

  it('a joint 2-block call writes the same layer-0 K/V for block 1 as block 1 alone', async () => {
    const F = 3, N = F * m.tokensPerFrame;
    const ctx = noise(m.text.maxTokens * m.text.contextDim, 12);
    const clip = noise(2 * F * h.frameSize, 13);
    const joint = await h.monolithic(h.inputs({ B: 1, latents: clip, timesteps: [0, 0, 0, 500, 500, 500], positions: [0, 1, 2, 3, 4, 5], context: ctx }));
    const alone = await h.monolithic(h.inputs({ B: 1, latents: frames(clip, h.frameSize, 0, F), timesteps: [0, 0, 0], positions: [0, 1, 2], context: ctx }));
    // Layer 0's K/V depend on each token alone; deeper layers mix blocks (no mask inside a call).
    const layer0 = (a: Float32Array, n: number, to: number) => kvTokens(a, m, n, 0, to).subarray(0, m.heads * to * m.headDim);
    expect(maxAbsDiff(layer0(joint.present_key as Float32Array, 2 * N, N), layer0(alone.present_key as Float32Array, N, N))).toBeLessThan(1e-5);
  });

  it('with a block-causal mask, block 0 of a joint call gets exactly its solo flow and K/V in every layer', async () => {
    const F = 3, N = F * m.tokensPerFrame;
    const ctx = noise(m.text.maxTokens * m.text.contextDim, 14);
    const clip = noise(2 * F * h.frameSize, 15);
    // Rows of block 0's tokens hide block 1's columns; block 1 sees both.
    const blocks = [0, 0, 0, 1, 1, 1].map((block) => ({ block }));
    const mask = buildAttentionMask({ pastTokens: 0, queryFrames: blocks, keyFrames: blocks, tokensPerFrame: m.tokensPerFrame, mode: 'causal' });
    const joint = await h.monolithic(h.inputs({ B: 1, latents: clip, timesteps: [0, 0, 0, 500, 500, 500], positions: [0, 1, 2, 3, 4, 5], context: ctx, mask }));
    const open = await h.monolithic(h.inputs({ B: 1, latents: clip, timesteps: [0, 0, 0, 500, 500, 500], positions: [0, 1, 2, 3, 4, 5], context: ctx }));
    const alone = await h.monolithic(h.inputs({ B: 1, latents: frames(clip, h.frameSize, 0, F), timesteps: [0, 0, 0], positions: [0, 1, 2], context: ctx }));
    const flow0 = (o: Outputs) => frames(o.flow as Float32Array, h.frameSize, 0, F);
    expect(maxAbsDiff(flow0(joint), flow0(alone))).toBeLessThan(1e-5);
    expect(maxAbsDiff(kvTokens(joint.present_key as Float32Array, m, 2 * N, 0, N), kvTokens(alone.present_key as Float32Array, m, N, 0, N))).toBeLessThan(1e-5);
    // Without the mask block 0 sees block 1, so the mask really does something.
    expect(maxAbsDiff(flow0(open), flow0(alone))).toBeGreaterThan(1e-3);
    // The layered chain applies the same mask, also split between two lanes along the block boundary.
    const masked = h.inputs({ B: 1, latents: clip, timesteps: [0, 0, 0, 500, 500, 500], positions: [0, 1, 2, 3, 4, 5], context: ctx, mask });
    const layered = await h.layered(masked);
    expect(maxAbsDiff(layered.flow as Float32Array, joint.flow as Float32Array)).toBeLessThan(1e-5);
    const lanes = await h.split(masked, [[0, 3], [3, 6]]);
    expect(maxAbsDiff(lanes.flow as Float32Array, joint.flow as Float32Array)).toBeLessThan(1e-5);
    expect(maxAbsDiff(lanes.present_key as Float32Array, joint.present_key as Float32Array)).toBeLessThan(1e-5);
  });
});

describe('model builder: one call over a clip equals block-by-block calls with the cache (1 layer)', () => {
  it('block 2 gets the same flow and K/V whether it runs with block 1 or after it', async () => {
    const dir = join(root, 'one-layer');
    const m = await buildModelPackage(dir, { layers: 1, seed: 5 });
    const h = await Harness.open(dir, m);
    try {
      const F = 3, N = F * m.tokensPerFrame;
      const ctx = noise(m.text.maxTokens * m.text.contextDim, 20);
      const clip = noise(2 * F * h.frameSize, 21);
      const t = [625, 625, 625, 937.5, 937.5, 937.5];
      const joint = await h.monolithic(h.inputs({ B: 1, latents: clip, timesteps: t, positions: [0, 1, 2, 3, 4, 5], context: ctx }));
      const first = await h.monolithic(h.inputs({ B: 1, latents: frames(clip, h.frameSize, 0, F), timesteps: t.slice(0, 3), positions: [0, 1, 2], context: ctx }));
      const second = await h.monolithic(h.inputs({
        B: 1, latents: frames(clip, h.frameSize, F, 2 * F), timesteps: t.slice(3), positions: [3, 4, 5], context: ctx,
        T: N, pastKey: first.present_key as Float32Array, pastValue: first.present_value as Float32Array,
      }));
      const jointFlow2 = frames(joint.flow as Float32Array, h.frameSize, F, 2 * F);
      expect(allFinite(second.flow as Float32Array)).toBe(true);
      expect(maxAbsDiff(jointFlow2, second.flow as Float32Array)).toBeLessThan(1e-4);
      expect(maxAbsDiff(kvTokens(joint.present_key as Float32Array, m, 2 * N, N, 2 * N), second.present_key as Float32Array)).toBeLessThan(1e-4);
      // Control: without the cache, block 2's flow differs.
      const noCache = await h.monolithic(h.inputs({ B: 1, latents: frames(clip, h.frameSize, F, 2 * F), timesteps: t.slice(3), positions: [3, 4, 5], context: ctx }));
      expect(maxAbsDiff(jointFlow2, noCache.flow as Float32Array)).toBeGreaterThan(1e-3);
    } finally {
      await h.release();
    }
  });
});

describe('model builder: text encoder and VAE decoder', () => {
  it('encode tokens to a normalised context and decode latents to frames in [−1, 1]', async () => {
    const dir = join(root, 'small');
    const m = await buildModelPackage(dir, { layers: 1, width: 64, videoHeight: 16, videoWidth: 24 });
    const text = await open(join(dir, m.files.textEncoder));
    const vae = await open(join(dir, m.files.vaeDecoder));
    try {
      const tokens = new Tensor('int64', BigInt64Array.from([17n, 2n, 9n, 0n, 0n, 0n, 0n, 0n]), [1, 8]);
      const ctx = (await run(text, { tokens })).context as Float32Array;
      expect(ctx.length).toBe(8 * m.text.contextDim);
      expect(allFinite(ctx)).toBe(true);
      expect(rms(ctx)).toBeCloseTo(1, 2); // LayerNorm output
      const short = (await run(text, { tokens: new Tensor('int64', BigInt64Array.from([17n, 2n]), [1, 2]) })).context as Float32Array;
      expect(maxAbsDiff(short, ctx.subarray(0, 2 * m.text.contextDim))).toBeLessThan(1e-5); // positions are absolute

      const F = 2;
      const out = await vae.run({ latents: f32(noise(F * 4 * 8 * 8, 30), [1, F, 4, 8, 8]) });
      const frames = out.frames as Tensor;
      expect(frames.dims).toEqual([1, F, 3, 16, 24]);
      const px = frames.data as Float32Array;
      expect(px.every((v) => v >= -1 && v <= 1)).toBe(true);
      expect(rms(px)).toBeGreaterThan(0.1);
    } finally {
      await text.release();
      await vae.release();
    }
  });
});
