/**
 * The sequential Self-Forcing pipeline as a plain loop over the same ONNX files: no actors, no
 * lanes, no slabs, the K/V cache a JS array. Tests compare the runtime against it.
 */
import ort from 'onnxruntime-node';
import { gaussianNoise } from '../../src/core/noise.js';
import { buildSchedule, samplerStep, stepNeedsNoise } from '../../src/core/sampler.js';
import type { ModelPackage } from '../../src/engine/model/loader.js';
import { tokenizePrompt } from '../../src/engine/model/tokenizer.js';

const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

/** One frame's K and V for every layer: [layers, heads, tokensPerFrame, headDim]. */
interface CachedFrame {
  readonly position: number;
  readonly key: Float32Array;
  readonly value: Float32Array;
}

export async function referenceFrames(pkg: ModelPackage, seed: number, blocks: number, prompt: string): Promise<Uint8Array[]> {
  const m = pkg.manifest;
  const [denoiser, textEncoder, vae] = await Promise.all([
    ort.InferenceSession.create(pkg.paths.denoiser, sessionOptions),
    ort.InferenceSession.create(pkg.paths.textEncoder, sessionOptions),
    ort.InferenceSession.create(pkg.paths.vaeDecoder, sessionOptions),
  ]);
  const F = m.framesPerBlock;
  const rows = m.tokensPerFrame * m.headDim;
  const tokens = tokenizePrompt(prompt, m.text);
  const context = (await textEncoder.run({ tokens: new ort.Tensor('int64', tokens, [1, tokens.length]) })).context!;
  const schedule = buildSchedule(m.sampler);
  const cache: CachedFrame[] = [];
  const frames: Uint8Array[] = [];

  const pastOf = (visible: CachedFrame[], which: 'key' | 'value') => {
    const out = new Float32Array(m.layers * m.heads * visible.length * rows);
    let o = 0;
    for (let l = 0; l < m.layers; l++)
      for (let h = 0; h < m.heads; h++)
        for (const frame of visible) {
          const start = (l * m.heads + h) * rows;
          out.set(frame[which].subarray(start, start + rows), o);
          o += rows;
        }
    return new ort.Tensor('float32', out, [m.layers, 1, m.heads, visible.length * m.tokensPerFrame, m.headDim]);
  };

  for (let b = 0; b < blocks; b++) {
    const positions = Float32Array.from({ length: F }, (_, f) => b * F + f);
    // Sink (the first frames, forever) plus the most recent window, in position order.
    const recent = cache.slice(-m.kv.windowFrames);
    const visible = cache.filter((f) => f.position < m.kv.sinkFrames || recent.includes(f));
    const past = { past_key: pastOf(visible, 'key'), past_value: pastOf(visible, 'value') };
    const n = F * m.tokensPerFrame;
    const run = (x: Float32Array, t: number) =>
      denoiser.run({
        latents: new ort.Tensor('float32', x, [1, F, m.latent.channels, m.latent.height, m.latent.width]),
        timesteps: new ort.Tensor('float32', new Float32Array(F).fill(t), [1, F]),
        frame_positions: new ort.Tensor('float32', positions, [1, F]),
        context,
        ...past,
        // Zeros: one block sees the whole past and itself (adding +0 changes no logit).
        attention_mask: new ort.Tensor('float32', new Float32Array(n * (visible.length * m.tokensPerFrame + n)), [1, 1, n, visible.length * m.tokensPerFrame + n]),
      });

    let x = gaussianNoise({ seed, block: b, step: 0 }, new Float32Array(F * m.latent.channels * m.latent.height * m.latent.width));
    for (let step = 0; step < schedule.sigmas.length; step++) {
      const sigma = schedule.sigmas[step]!;
      const sigmaNext = schedule.sigmas[step + 1] ?? 0;
      const flow = (await run(x, schedule.timesteps[step]!)).flow!.data as Float32Array;
      const noise = stepNeedsNoise(sigmaNext, m.sampler.update) ? gaussianNoise({ seed, block: b, step: step + 1 }, new Float32Array(x.length)) : null;
      const next = new Float32Array(x.length);
      samplerStep(x, flow, sigma, sigmaNext, noise, next, m.sampler.update);
      x = next;
    }
    const decoded = (await vae.run({ latents: new ort.Tensor('float32', x, [1, F, m.latent.channels, m.latent.height, m.latent.width]) })).frames!.data as Float32Array;
    const plane = m.video.height * m.video.width;
    for (let f = 0; f < F; f++) {
      const rgb = new Uint8Array(plane * 3);
      for (let p = 0; p < plane; p++)
        for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.min(255, Math.max(0, Math.round((decoded[(f * 3 + c) * plane + p]! + 1) * 127.5)));
      frames.push(rgb);
    }
    // Cache step: the clean block at t = 0 writes its K/V; its flow is thrown away.
    const cached = await run(x, 0);
    const key = cached.present_key!.data as Float32Array;
    const value = cached.present_value!.data as Float32Array;
    for (let f = 0; f < F; f++) {
      const k = new Float32Array(m.layers * m.heads * rows);
      const v = new Float32Array(m.layers * m.heads * rows);
      for (let lh = 0; lh < m.layers * m.heads; lh++) {
        const src = lh * F * rows + f * rows;
        k.set(key.subarray(src, src + rows), lh * rows);
        v.set(value.subarray(src, src + rows), lh * rows);
      }
      cache.push({ position: b * F + f, key: k, value: v });
    }
  }
  await Promise.all([denoiser.release(), textEncoder.release(), vae.release()]);
  return frames;
}
