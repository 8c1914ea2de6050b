/**
 * A computed tick with feature caching on, in one `session.run` (worker side): the fused forward
 * (`model/fused-graph.ts`) runs embed, every layer and the head, and returns what the layered
 * chain exposes between its calls (each layer's input and K/V, the stack's output). The
 * indicator's sums, the store's writes and the sampler step are then those of `share-tick.ts`,
 * on the same floats in the same order, with the same fast paths: no inputs stored nor sums
 * taken for a member that no longer measures, no K/V stored unless the store keeps them.
 *
 * It covers a tick on one lane in which every member computes (at P0 every computed step, and
 * the cache step). A tick with a reusing member, or spread over several lanes that exchange K/V
 * per layer, stays on the layered chain (`runShare`).
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { MemberFeatureSums, ShareResult, ShareTask } from '../../protocol/lane-messages.js';
import { scatterPresent, type KvTensors } from '../kv/kv-slabs.js';
import { buildAttentionMask, tickMaskFrames } from '../model/attention-mask.js';
import { FUSED_IO } from '../model/fused-graph.js';
import { storeCleanLatents } from './clean-latents.js';
import { crashIfDue } from './faults.js';
import { compareAndStore, copyHeadRows, firstResidualChange, storeResidual } from './feature-rows.js';
import { featureSlot, type FeatureStore } from './feature-store.js';
import { denoiserFeeds, frameInputs, stepFrames } from './frame-range.js';
import { nextInputSums, withNextInputs } from './next-inputs.js';
import type { LaneWorkerData } from './worker-data.js';

/**
 * Whether `task` can run fused: caching is on (a store), the tick is on this lane alone, and
 * every member computes (none reuses, none decides after its first layer).
 *
 * @example
 * ```ts
 * if (fusable(task)) return runFusedShare(task, fused, past, data);
 * ```
 */
export function fusable(task: ShareTask, framesPerBlock: number): boolean {
  const frames = task.members.length * framesPerBlock;
  return task.featureStore !== undefined && task.lanes === 1 && task.frames.from === 0 && task.frames.to === frames && task.keyFrames === frames && task.members.every((m) => m.features === undefined || m.features === 'compute');
}

function output(outputs: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`the fused forward returned no output "${name}"`);
  return tensor.data as Float32Array;
}

type Sums = { -readonly [K in keyof MemberFeatureSums]: MemberFeatureSums[K] } & { change: number[]; base: number[] };

/**
 * Runs a {@link fusable} tick through `fused` with `past` (the cache past of `task.pastSlots`,
 * `[layers, 1, heads, T, headDim]`). `mask`: the tick's attention mask when the caller keeps one
 * (the lane's joint mask: the same queries and keys, so the same floats); built otherwise.
 * `pastFrames`: the frames `past` holds, when it holds more than the cache past (`fused-mixed.ts`
 * appends reusing members' stored K/V), with `mask` then covering them.
 *
 * @example
 * ```ts
 * const result = await runFusedShare(task, fused, gatherPast(data.kv, task.pastSlots), data);
 * ```
 */
export async function runFusedShare(task: ShareTask, fused: ort.InferenceSession, past: KvTensors, data: LaneWorkerData, mask?: Float32Array, pastFrames = task.pastSlots.length, embed?: ort.InferenceSession): Promise<ShareResult> {
  const start = performance.now();
  const m = data.manifest;
  const F = m.framesPerBlock;
  const tpf = m.tokensPerFrame;
  const D = m.width;
  const frameSize = m.latent.channels * m.latent.height * m.latent.width;
  const frames = task.members.length * F;
  const store = task.featureStore as FeatureStore;
  const pastTokens = pastFrames * tpf;
  const feeds = denoiserFeeds(frameInputs(task.members, 0, frames, data), task.contextSlot, past, pastFrames, data);
  const tickFrames = tickMaskFrames(task.members, F);
  const attention = mask ?? buildAttentionMask({ pastTokens, queryFrames: tickFrames, keyFrames: tickFrames, tokensPerFrame: tpf, mode: task.attention, ...(task.window ? { window: task.window } : {}) });
  feeds.attention_mask = new ort.Tensor('float32', attention, [1, 1, frames * tpf, pastTokens + frames * tpf]);
  const keepKeyValues = store.keepKeyValues !== false;
  // The K/V leave the call only when something keeps them (the store, or the cache step's
  // slots): at P0 a computed step's present K/V are not copied out (about 1 % of the call).
  const wantKeyValues = keepKeyValues || task.cacheSlots !== null || task.presentTo !== undefined;
  // Every layer's input only when a member measures (compares and keeps them); otherwise the
  // first layer's, for the residual: the others' copies cost the call about 5 %.
  const measuring = task.members.some((member) => !member.cache && member.commit !== false && member.measure !== false);
  const inputs = measuring ? FUSED_IO.layerInputs : FUSED_IO.hiddenIn;
  const fetches = [FUSED_IO.flow, ...(wantKeyValues ? [FUSED_IO.presentKey, FUSED_IO.presentValue] : []), inputs, FUSED_IO.hiddenOut];
  const runStart = performance.now();
  const outputs = await fused.run(feeds, fetches);
  const runMs = performance.now() - runStart;
  const flow = output(outputs, FUSED_IO.flow);
  const presentKey = wantKeyValues ? output(outputs, FUSED_IO.presentKey) : new Float32Array(0);
  const presentValue = wantKeyValues ? output(outputs, FUSED_IO.presentValue) : new Float32Array(0);
  // [layers, 1, N, width], or [1, N, width] (layer 0 only): layer 0's rows are at the front either way.
  const layerInputs = output(outputs, inputs);
  const hiddenOut = output(outputs, FUSED_IO.hiddenOut);

  const t = performance.now();
  const tokens = frames * tpf;
  const rowFloats = tpf * D;
  const n = F * rowFloats;
  const kvFloats = m.heads * tokens * m.headDim;
  const inputOf = (l: number, i: number) => layerInputs.subarray(l * tokens * D + i * n, l * tokens * D + (i + 1) * n);
  const track = store.track;
  const sums: Sums[] = [];
  task.members.forEach((member, i) => {
    // Computing denoising members keep their features (the cache step's are never reused).
    if (member.cache || member.commit === false) return;
    const cached = featureSlot(store, m, member.latentSlot);
    const staged = featureSlot(store, m, member.latentSlot, 'steps');
    // A member that no longer measures (bwcache, schedule fixed) keeps only its residual, and
    // its K/V when the store keeps them: nothing reads its inputs again.
    const measure = member.measure !== false;
    const into: Sums = { block: member.block, stage: member.stage, change: [], base: [] };
    for (let l = 0; l < m.layers; l++) {
      if (measure) {
        const kept = cached.input(l);
        if (track === 'first-residual' && l === 1) into.firstResidual = firstResidualChange(inputOf(0, i), inputOf(1, i), cached.input(0), kept, n);
        const { change, base } = compareAndStore(inputOf(l, i), kept, staged.input(l), member.stage > 0);
        into.change.push(change);
        into.base.push(base);
      }
      if (keepKeyValues) {
        copyHeadRows(presentKey.subarray(l * kvFloats, (l + 1) * kvFloats), tokens, i * F * tpf, staged.key(l), F * tpf, 0, F * tpf, m.heads, m.headDim);
        copyHeadRows(presentValue.subarray(l * kvFloats, (l + 1) * kvFloats), tokens, i * F * tpf, staged.value(l), F * tpf, 0, F * tpf, m.heads, m.headDim);
      }
    }
    const a = i * n;
    const residual = cached.residual;
    const out = staged.residual;
    // Measured as in the layered share (share-tick.ts), for calibration and fbcache.
    const { change, base } = storeResidual(hiddenOut, layerInputs, a, n, residual, out, measure && track !== undefined);
    if (!measure) return;
    if (track !== undefined) {
      into.residual = [change, base];
      if (track === 'first-residual' && m.layers < 2) into.firstResidual = [change, base];
    }
    sums.push(into);
  });
  const featureMs = performance.now() - t;

  // Sampler step for every denoising member, then the caching block's clean K/V, as the layered
  // share does (it stores them from the exchange, here from the call's own K/V).
  task.members.forEach((member, i) => {
    if (!member.cache && member.commit !== false) stepFrames(member, 0, F, flow.subarray(i * F * frameSize, (i + 1) * F * frameSize), data);
    crashIfDue(data.faults, 'share', 'after-step');
  });
  if (task.cacheSlots) {
    scatterPresent(data.kv, task.cacheSlots, presentKey, presentValue, { firstFrame: 0, frames });
    storeCleanLatents(data.latents, data.cleanLatents, (task.members[0] as ShareTask['members'][number]).latentSlot, task.cacheSlots);
  }
  if (task.presentTo) {
    new Float32Array(task.presentTo.key).set(presentKey);
    new Float32Array(task.presentTo.value).set(presentValue);
  }
  let featureSums: MemberFeatureSums[] = sums.filter((s) => s.stage > 0);
  let lookMs = 0;
  if (track === 'first-input' && embed) {
    const l = performance.now();
    featureSums = withNextInputs(featureSums, await nextInputSums(embed, task.members.map((member, i) => ({ member, blockFrame: 0, count: F, embedded: inputOf(0, i) })), data));
    lookMs = performance.now() - l;
  }
  return { runMs, workerMs: performance.now() - start, exchangeWaitMs: 0, layerWaitsMs: [], featureSums, featureMs: featureMs + lookMs };
}
