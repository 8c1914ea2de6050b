/**
 * A lane's share of a tick in `lanes` execution (worker side): the layered model over this
 * lane's frames, exchanging every layer's K/V with the tick's other lanes through the exchange
 * slab, then the sampler step for these frames. Same arithmetic as a joint tick, split by
 * frames, with the keys in the joint call's order ([cache past ; every tick token]); the graphs
 * and matrix shapes differ, so results agree with `joint` to float rounding.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { ShareResult, ShareTask, TickMemberTask } from '../../protocol/lane-messages.js';
import { arriveAndWait, abortExchange, exchangeToSlots, fullKeyValues, publishLayer } from './exchange.js';
import { buildAttentionMask } from '../model/attention-mask.js';
import { gaussianNoise } from '../../core/noise.js';
import { samplerStep, stepNeedsNoise } from '../../core/sampler.js';
import { slotView } from '../memory/slot-slab.js';
import { storeCleanLatents } from './clean-latents.js';
import type { LaneWorkerData } from './worker-data.js';

export interface LayeredSessions {
  readonly embed: ort.InferenceSession;
  readonly layers: readonly ort.InferenceSession[];
  readonly keyValues: readonly ort.InferenceSession[];
  readonly head: ort.InferenceSession;
}

function output(outputs: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`the layered model returned no output "${name}"`);
  return tensor.data as Float32Array;
}

/** Key/value buffers by size, reused across ticks: a lane's tick sizes repeat (window full). */
const buffers = new Map<number, { readonly key: Float32Array; readonly value: Float32Array }>();

function keyValueBuffers(floats: number): { readonly key: Float32Array; readonly value: Float32Array } {
  let pair = buffers.get(floats);
  if (pair === undefined) {
    if (buffers.size >= 16) buffers.clear(); // sizes of a growing cache never come back
    pair = { key: new Float32Array(floats), value: new Float32Array(floats) };
    buffers.set(floats, pair);
  }
  return pair;
}

export async function runShare(task: ShareTask, sessions: LayeredSessions, context: Float32Array, data: LaneWorkerData): Promise<ShareResult> {
  const start = performance.now();
  const m = data.manifest;
  const x = data.exchange;
  const F = m.framesPerBlock;
  const frameSize = m.latent.channels * m.latent.height * m.latent.width;
  const tpf = m.tokensPerFrame;
  const { from, to } = task.frames;
  const frames = to - from;
  const totalTokens = task.members.length * F * tpf;
  const mine = { from: from * tpf, to: to * tpf };
  let runMs = 0;
  const layerWaitsMs: number[] = [];
  const run = async (session: ort.InferenceSession, feeds: Record<string, ort.Tensor>) => {
    const t = performance.now();
    const outputs = await session.run(feeds);
    runMs += performance.now() - t;
    return outputs;
  };
  try {
    const latents = new Float32Array(frames * frameSize);
    const timesteps = new Float32Array(frames);
    const positions = new Float32Array(frames);
    for (let f = from; f < to; f++) {
      const member = task.members[Math.floor(f / F)];
      if (!member) throw new Error(`frame ${f} is outside the tick's ${task.members.length} blocks`);
      const local = f % F;
      const slot = slotView(data.latents, member.latentSlot);
      if (member.stage === 0) {
        // The whole block's noise, of which this lane keeps its frames: a split block gets the
        // same noise as in a joint call.
        const noise = gaussianNoise({ seed: member.seed, block: member.block, step: 0 }, new Float32Array(F * frameSize));
        slot.set(noise.subarray(local * frameSize, (local + 1) * frameSize), local * frameSize);
      }
      latents.set(slot.subarray(local * frameSize, (local + 1) * frameSize), (f - from) * frameSize);
      timesteps[f - from] = member.timestep;
      positions[f - from] = member.positions[local] as number;
    }
    const perFrame = (a: Float32Array) => new ort.Tensor('float32', a, [1, frames]);
    const latentTensor = new ort.Tensor('float32', latents, [1, frames, m.latent.channels, m.latent.height, m.latent.width]);
    const e = await run(sessions.embed, { latents: latentTensor, timesteps: perFrame(timesteps) });
    let hidden = output(e, 'hidden');
    const timeEmbedding = new ort.Tensor('float32', output(e, 'time_embedding'), [1, frames, m.width]);
    const hiddenDims = [1, frames * tpf, m.width];
    const pastTokens = task.pastSlots.length * tpf;
    // One key/value buffer pair for every layer of this tick (the runs are sequential).
    const keyValues = keyValueBuffers(m.heads * (pastTokens + totalTokens) * m.headDim);
    // Rows: this lane's frames; columns: the cache past, then every tick frame in tick order.
    const tickFrames = task.members.flatMap((member) => Array.from({ length: F }, () => ({ block: member.block })));
    const mask = buildAttentionMask({ pastTokens, queryFrames: tickFrames.slice(from, to), keyFrames: tickFrames, tokensPerFrame: tpf, mode: task.attention });
    const maskTensor = new ort.Tensor('float32', mask, [1, 1, frames * tpf, pastTokens + totalTokens]);
    const contextTensor = new ort.Tensor('float32', context, [1, m.text.maxTokens, m.text.contextDim]);
    for (let l = 0; l < m.layers; l++) {
      const kv = await run(sessions.keyValues[l] as ort.InferenceSession, {
        hidden: new ort.Tensor('float32', hidden, hiddenDims),
        time_embedding: timeEmbedding,
        frame_positions: perFrame(positions),
      });
      publishLayer(x, l, mine.from, output(kv, 'key'), output(kv, 'value'));
      layerWaitsMs.push(arriveAndWait(x, l, task.lanes));
      // The cache past, then every tick token, own included: layer_<l> takes the full K/V set.
      const layerPast = fullKeyValues(x, l, data.kv, task.pastSlots, totalTokens, keyValues);
      const pastDims = [1, m.heads, layerPast.tokens, m.headDim];
      const out = await run(sessions.layers[l] as ort.InferenceSession, {
        hidden: new ort.Tensor('float32', hidden, hiddenDims),
        time_embedding: timeEmbedding,
        frame_positions: perFrame(positions),
        context: contextTensor,
        key: new ort.Tensor('float32', layerPast.key, pastDims),
        value: new ort.Tensor('float32', layerPast.value, pastDims),
        attention_mask: maskTensor,
      });
      hidden = output(out, 'hidden_out');
    }
    const flow = output(await run(sessions.head, { hidden: new ort.Tensor('float32', hidden, hiddenDims), time_embedding: timeEmbedding, latents: latentTensor, timesteps: perFrame(timesteps) }), 'flow');

    // Sampler step for this lane's frames of every denoising block.
    for (let f = from; f < to; ) {
      const index = Math.floor(f / F);
      const member = task.members[index]!;
      const end = Math.min(to, (index + 1) * F);
      if (!member.cache) {
        const slot = slotView(data.latents, member.latentSlot);
        const a = (f % F) * frameSize;
        const b = a + (end - f) * frameSize;
        const noise = stepNeedsNoise(member.sigmaNext, m.sampler.update)
          ? gaussianNoise({ seed: member.seed, block: member.block, step: member.stage + 1 }, new Float32Array(F * frameSize)).subarray(a, b)
          : null;
        const xs = slot.subarray(a, b);
        samplerStep(xs, flow.subarray((f - from) * frameSize, (end - from) * frameSize), member.sigma, member.sigmaNext, noise, xs, m.sampler.update);
      }
      f = end;
    }
    // Every lane has published every layer (each passed the last barrier): the lane that holds
    // the tick's first frame stores the caching block's clean K/V.
    if (task.cacheSlots && from === 0) {
      exchangeToSlots(x, data.kv.keys, data.kv.values, tpf, task.cacheSlots, 0);
      storeCleanLatents(data.latents, data.cleanLatents, (task.members[0] as TickMemberTask).latentSlot, task.cacheSlots);
    }
    const exchangeWaitMs = layerWaitsMs.reduce((total, ms) => total + ms, 0);
    return { runMs, workerMs: performance.now() - start, exchangeWaitMs, layerWaitsMs };
  } catch (error) {
    abortExchange(x);
    throw error;
  }
}
