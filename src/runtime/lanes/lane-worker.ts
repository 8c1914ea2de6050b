/**
 * The body of a lane: one worker thread that owns the ONNX Runtime sessions of one device.
 *
 * Sessions are created once, by the start-up ping, so the first forward finds them warm. `session.run` blocks this thread for the whole forward, which
 * is why forwards never run on the thread that hosts the actors.
 */
import { workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { DecodeResult, DecodeTask, DenoiseTask, EncodeTask, LaneTask, LaneTiming } from '../../protocol/lane-messages.js';
import { gaussianNoise } from '../noise.js';
import { samplerStep } from '../sampler.js';
import { gatherPast, scatterPresent } from '../kv/kv-slabs.js';
import { slotView } from '../slot-slab.js';
import type { LaneWorkerData } from './worker-data.js';

const data = workerData as LaneWorkerData;
const m = data.manifest;
const framesPerBlock = m.framesPerBlock;
const latentDims = [1, framesPerBlock, m.latent.channels, m.latent.height, m.latent.width];

function sessionOptions(): ort.InferenceSession.SessionOptions {
  const device = data.lane.device;
  const executionProviders: ort.InferenceSession.ExecutionProviderConfig[] =
    device === 'cpu' ? ['cpu'] : [{ name: 'cuda', deviceId: Number(device.slice('cuda:'.length)) }, 'cpu'];
  return {
    executionProviders,
    executionMode: 'sequential',
    intraOpNumThreads: data.lane.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: data.allowSpinning ? {} : { session: { intra_op: { allow_spinning: '0' } } },
  };
}

interface Sessions {
  readonly denoiser: ort.InferenceSession;
  readonly textEncoder: ort.InferenceSession;
  readonly vaeDecoder: ort.InferenceSession;
}

let sessions: Promise<Sessions> | null = null;

/**
 * Creates the sessions once, on the first task (the runtime sends a `ping` at start-up).
 * Not a top-level await: under tsx, Node 20 workers cannot load a TypeScript module that has one.
 */
function loadSessions(): Promise<Sessions> {
  sessions ??= (async () => {
    const options = sessionOptions();
    const [denoiser, textEncoder, vaeDecoder] = await Promise.all([
      ort.InferenceSession.create(data.files.denoiser, options),
      ort.InferenceSession.create(data.files.textEncoder, options),
      ort.InferenceSession.create(data.files.vaeDecoder, options),
    ]);
    return { denoiser, textEncoder, vaeDecoder };
  })();
  return sessions;
}

/** Runs a session and times only `session.run`, the part the runtime cannot make cheaper. */
async function timedRun(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
): Promise<{ outputs: ort.InferenceSession.OnnxValueMapType; runMs: number }> {
  const start = performance.now();
  const outputs = await session.run(feeds);
  return { outputs, runMs: performance.now() - start };
}

function output(outputs: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`lane ${data.laneId}: the model returned no output "${name}"`);
  return tensor.data as Float32Array;
}

async function encode(task: EncodeTask, { textEncoder }: Sessions): Promise<LaneTiming> {
  const start = performance.now();
  const tokens = BigInt64Array.from(task.tokens, (t) => BigInt(t));
  const { outputs, runMs } = await timedRun(textEncoder, {
    tokens: new ort.Tensor('int64', tokens, [1, tokens.length]),
  });
  slotView(data.contexts, task.contextSlot).set(output(outputs, 'context'));
  return { runMs, workerMs: performance.now() - start };
}

async function denoise(task: DenoiseTask, { denoiser }: Sessions): Promise<LaneTiming> {
  const start = performance.now();
  const latent = slotView(data.latents, task.latentSlot);
  if (task.stage === 0) {
    // The first step starts from pure noise drawn for (seed, block, step 0).
    gaussianNoise({ seed: task.seed, block: task.block, step: 0 }, latent);
  }
  const past = gatherPast(data.kv, task.pastSlots);
  const pastTokens = task.pastSlots.length * m.tokensPerFrame;
  const pastDims = [m.layers, 1, m.heads, pastTokens, m.headDim];
  const { outputs, runMs } = await timedRun(denoiser, {
    latents: new ort.Tensor('float32', latent.slice(), latentDims),
    timesteps: new ort.Tensor('float32', new Float32Array(framesPerBlock).fill(task.timestep), [1, framesPerBlock]),
    frame_positions: new ort.Tensor('float32', Float32Array.from(task.positions), [1, framesPerBlock]),
    context: new ort.Tensor('float32', slotView(data.contexts, task.contextSlot).slice(), [1, m.text.maxTokens, m.text.contextDim]),
    past_key: new ort.Tensor('float32', past.key, pastDims),
    past_value: new ort.Tensor('float32', past.value, pastDims),
  });
  if (task.writeSlots) {
    // Cache step: only the clean K/V matter; the flow of a block fed at σ = 0 is discarded.
    scatterPresent(data.kv, task.writeSlots, output(outputs, 'present_key'), output(outputs, 'present_value'));
  } else {
    const noise = task.sigmaNext > 0
      ? gaussianNoise({ seed: task.seed, block: task.block, step: task.stage + 1 }, new Float32Array(latent.length))
      : null;
    samplerStep(latent, output(outputs, 'flow'), task.sigma, task.sigmaNext, noise, latent);
  }
  return { runMs, workerMs: performance.now() - start };
}

async function decode(task: DecodeTask, { vaeDecoder }: Sessions): Promise<DecodeResult> {
  const start = performance.now();
  const latent = slotView(data.latents, task.latentSlot);
  const { outputs, runMs } = await timedRun(vaeDecoder, {
    latents: new ort.Tensor('float32', latent.slice(), latentDims),
  });
  const rgb = toRgbBytes(output(outputs, 'frames'), framesPerBlock, m.video.height, m.video.width);
  // Copied by structured clone (Piscina transfers only a top-level return value); a block's
  // frames are a few kilobytes.
  return { rgb, runMs, workerMs: performance.now() - start };
}

/** [F,3,H,W] floats in [-1, 1] → F frames of interleaved RGB bytes. */
function toRgbBytes(planar: Float32Array, frames: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const rgb = new Uint8Array(frames * plane * 3);
  for (let f = 0; f < frames; f++) {
    const src = f * 3 * plane;
    const dst = f * plane * 3;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.round(((planar[src + c * plane + p] as number) + 1) * 127.5);
        rgb[dst + p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return rgb;
}

/** Piscina entry point. */
export default async function runLaneTask(task: LaneTask): Promise<LaneTiming | DecodeResult> {
  const loaded = await loadSessions();
  switch (task.kind) {
    case 'ping':
      return { runMs: 0, workerMs: 0 };
    case 'encode':
      return encode(task, loaded);
    case 'denoise':
      return denoise(task, loaded);
    case 'decode':
      return decode(task, loaded);
  }
}
