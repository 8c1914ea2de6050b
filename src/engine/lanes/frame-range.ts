/**
 * A lane's frames of a tick (worker side), shared by the modes that split a tick by frames
 * (`lanes`, `layered`, `stale`) and by the joint tick (all its frames): the inputs of frames
 * [from, to) and the sampler step of a run of one block's frames. A split block gets the same
 * noise and the same update as in a joint call.
 */
import * as ort from 'onnxruntime-node';
import { gaussianNoise } from '../../core/noise.js';
import type { KvTensors } from '../kv/kv-slabs.js';
import { samplerStep, stepNeedsNoise } from '../../core/sampler.js';
import type { TickMemberTask } from '../../protocol/lane-messages.js';
import { slotView } from '../memory/slot-slab.js';
import type { LaneWorkerData } from './worker-data.js';

/** Latents, timesteps and positions of frames [from, to) of a tick, frame-major. */
export interface FrameInputs {
  readonly latents: Float32Array;
  readonly timesteps: Float32Array;
  readonly positions: Float32Array;
}

const frameFloats = (data: LaneWorkerData) => data.manifest.latent.channels * data.manifest.latent.height * data.manifest.latent.width;

/**
 * Gathers the inputs of the tick's frames [from, to) (global frame indices, oldest block first);
 * a block at its first step gets its noise first, drawn for the whole block, this lane keeping
 * its frames.
 *
 * @example
 * ```ts
 * const { latents, timesteps, positions } = frameInputs(task.members, 3, 8, workerData);
 * ```
 */
export function frameInputs(members: readonly TickMemberTask[], from: number, to: number, data: LaneWorkerData): FrameInputs {
  const F = data.manifest.framesPerBlock;
  const size = frameFloats(data);
  const frames = to - from;
  const latents = new Float32Array(frames * size);
  const timesteps = new Float32Array(frames);
  const positions = new Float32Array(frames);
  // A block's first-step noise is drawn once per call, however many of its frames are here.
  const noises = new Map<TickMemberTask, Float32Array>();
  for (let f = from; f < to; f++) {
    const member = members[Math.floor(f / F)];
    if (!member) throw new Error(`frame ${f} is outside the tick's ${members.length} blocks`);
    const local = f % F;
    const slot = slotView(data.latents, member.latentSlot);
    if (member.stage === 0) {
      let noise = noises.get(member);
      if (noise === undefined) noises.set(member, (noise = gaussianNoise({ seed: member.seed, block: member.block, step: 0 }, new Float32Array(F * size))));
      slot.set(noise.subarray(local * size, (local + 1) * size), local * size);
    }
    latents.set(slot.subarray(local * size, (local + 1) * size), (f - from) * size);
    timesteps[f - from] = member.timestep;
    positions[f - from] = member.positions[local] as number;
  }
  return { latents, timesteps, positions };
}

/**
 * The monolithic denoiser's feeds for `inputs` (frames of a tick), the prompt in `contextSlot`
 * and a past of `pastFrames` frames; the attention mask, when the call needs one, is the caller's.
 *
 * @example
 * ```ts
 * const feeds = denoiserFeeds(frameInputs(task.members, 0, frames, data), task.contextSlot, past, task.pastSlots.length, data);
 * ```
 */
export function denoiserFeeds(inputs: FrameInputs, contextSlot: number, past: KvTensors, pastFrames: number, data: LaneWorkerData): Record<string, ort.Tensor> {
  const m = data.manifest;
  const frames = inputs.timesteps.length;
  const pastDims = [m.layers, 1, m.heads, pastFrames * m.tokensPerFrame, m.headDim];
  return {
    latents: new ort.Tensor('float32', inputs.latents, [1, frames, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: new ort.Tensor('float32', inputs.timesteps, [1, frames]),
    frame_positions: new ort.Tensor('float32', inputs.positions, [1, frames]),
    context: new ort.Tensor('float32', slotView(data.contexts, contextSlot).slice(), [1, m.text.maxTokens, m.text.contextDim]),
    past_key: new ort.Tensor('float32', past.key, pastDims),
    past_value: new ort.Tensor('float32', past.value, pastDims),
  };
}

/**
 * The fresh noise a re-noising update adds after `member`'s step: a whole block's `floats`,
 * keyed by (seed, block, next step), so every path that steps a block draws the same.
 *
 * @example
 * ```ts
 * const noise = stepNoise(member, latent.length);
 * ```
 */
export function stepNoise(member: Pick<TickMemberTask, 'seed' | 'block' | 'stage'>, floats: number): Float32Array {
  return gaussianNoise({ seed: member.seed, block: member.block, step: member.stage + 1 }, new Float32Array(floats));
}

/**
 * The sampler step of `count` frames of a denoising member from its frame `firstFrame`, from the
 * latent slab into the staged steps (committed by the actor thread once the tick succeeds), with
 * `flow` holding exactly those frames.
 *
 * @example
 * ```ts
 * stepFrames(member, 1, 2, flow.subarray(a, b), workerData);
 * ```
 */
export function stepFrames(member: TickMemberTask, firstFrame: number, count: number, flow: Float32Array, data: LaneWorkerData): void {
  const m = data.manifest;
  const size = frameFloats(data);
  const a = firstFrame * size;
  const b = a + count * size;
  const noise = stepNeedsNoise(member.sigmaNext, m.sampler.update)
    ? stepNoise(member, m.framesPerBlock * size).subarray(a, b)
    : null;
  const xs = slotView(data.latents, member.latentSlot).subarray(a, b);
  const out = slotView(data.latentSteps, member.latentSlot).subarray(a, b);
  samplerStep(xs, flow, member.sigma, member.sigmaNext, noise, out, m.sampler.update);
}
