import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAttentionMask } from '../src/engine/model/attention-mask.js';
import { loadModelPackage } from '../src/engine/model/loader.js';
import type { ModelManifest } from '../src/core/manifest-types.js';
import { tokenizePrompt } from '../src/engine/model/tokenizer.js';
import { Tensor } from 'onnxruntime-node';
import { allFinite, Harness, maxAbsDiff, open, run } from './helpers/model-harness.js';
import { ROOT } from './support/cli.js';

/** The trained default package (tools/train/), exported from PyTorch. */
const DIR = join(ROOT, 'models', 'sprites');

interface ExportCheck {
  readonly prompt: string;
  readonly inputs: Record<'latents' | 'timesteps' | 'frame_positions' | 'past_key' | 'past_value', number[]> & { readonly pastTokens: number };
  readonly outputs: Record<'flow' | 'present_key' | 'present_value', number[]>;
}

describe('the trained default model (models/sprites)', () => {
  let m: ModelManifest;
  let h: Harness;
  let check: ExportCheck;
  let context: Float32Array;

  beforeAll(async () => {
    m = (await loadModelPackage(DIR)).manifest;
    h = await Harness.open(DIR, m);
    check = JSON.parse(await readFile(join(DIR, 'export-check.json'), 'utf8')) as ExportCheck;
    const text = await open(join(DIR, m.files.textEncoder));
    const tokens = new Tensor('int64', tokenizePrompt(check.prompt, m.text), [1, m.text.maxTokens]);
    context = (await run(text, { tokens })).context as Float32Array;
    await text.release();
  });
  afterAll(async () => {
    await h?.release();
  });

  it('loads: manifest and every graph pass the contract checks', () => {
    expect(m.format).toBe('block-cascade/model@2');
    expect(m.files.layered.layers).toHaveLength(m.layers);
  });

  /** The denoiser call PyTorch computed at export time, as feeds. */
  const exportFeeds = () => {
    const F = check.inputs.timesteps.length;
    const T = check.inputs.pastTokens;
    return h.inputs({
      B: 1,
      latents: Float32Array.from(check.inputs.latents),
      timesteps: check.inputs.timesteps,
      positions: check.inputs.frame_positions,
      context,
      pastKey: Float32Array.from(check.inputs.past_key),
      pastValue: Float32Array.from(check.inputs.past_value),
      T,
      mask: new Float32Array(F * m.tokensPerFrame * (T + F * m.tokensPerFrame)),
    });
  };

  it('onnxruntime-node computes what PyTorch computed at export (denoiser with a past)', async () => {
    const out = await h.monolithic(exportFeeds());
    for (const k of ['flow', 'present_key', 'present_value'] as const) {
      const got = out[k] as Float32Array;
      expect(allFinite(got), k).toBe(true);
      expect(maxAbsDiff(got, Float32Array.from(check.outputs[k])), k).toBeLessThan(1e-3);
    }
  });

  it('the layered form equals the monolithic denoiser, also split across two lanes with a causal mask', async () => {
    const feeds = exportFeeds();
    const mono = await h.monolithic(feeds);
    const chain = await h.layered(feeds);
    for (const k of ['flow', 'present_key', 'present_value'] as const) {
      expect(maxAbsDiff(mono[k] as Float32Array, chain[k] as Float32Array), k).toBeLessThan(1e-4);
    }
    // Two blocks in flight (6 frames), block-causal, split into frames 0–3 and 4–5.
    const F = 2 * m.framesPerBlock;
    const T = check.inputs.pastTokens;
    const frameSize = m.latent.channels * m.latent.height * m.latent.width;
    const latents = new Float32Array(F * frameSize);
    latents.set(Float32Array.from(check.inputs.latents));
    latents.set(Float32Array.from(check.inputs.latents).map((v) => -v), m.framesPerBlock * frameSize);
    const inFlight = Array.from({ length: F }, (_, f) => ({ block: Math.floor(f / m.framesPerBlock) }));
    const mask = buildAttentionMask({ mode: 'causal', pastTokens: T, queryFrames: inFlight, keyFrames: inFlight, tokensPerFrame: m.tokensPerFrame });
    const two = h.inputs({
      B: 1, latents, timesteps: [625, 625, 625, 937.5, 937.5, 937.5], positions: [6, 7, 8, 9, 10, 11], context,
      pastKey: Float32Array.from(check.inputs.past_key), pastValue: Float32Array.from(check.inputs.past_value), T, mask,
    });
    const whole = await h.monolithic(two);
    const lanes = await h.split(two, [[0, 4], [4, 6]]);
    expect(maxAbsDiff(whole.flow as Float32Array, lanes.flow as Float32Array)).toBeLessThan(1e-4);
  });
});
