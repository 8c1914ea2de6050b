/**
 * A tick in which every member reuses its cached features, in one `session.run` (worker side):
 * the reuse graph (`model/fused-graph.ts`, `fuseReuseGraph`) embeds the frames, adds each
 * member's residual from the store and runs the head. What `share-tick.ts` does for reusing
 * members otherwise (two calls, and K/V published for members that may attend to them: here
 * there are none) — the same floats: the addition is float32 in both.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { MemberFeatureSums, ShareResult, ShareTask } from '../../protocol/lane-messages.js';
import { REUSE_IO } from '../model/fused-graph.js';
import { crashIfDue } from './faults.js';
import { compareAndStore } from './feature-rows.js';
import { featureSlot, type FeatureStore } from './feature-store.js';
import { frameInputs, stepFrames } from './frame-range.js';
import { nextInputSums, withNextInputs } from './next-inputs.js';
import type { LaneWorkerData } from './worker-data.js';

/**
 * Whether `task` can run through the reuse graph: caching is on, the tick is on this lane
 * alone, and every member reuses.
 *
 * @example
 * ```ts
 * if (reusesAll(task, 3)) return runFusedReuse(task, reuse, data);
 * ```
 */
export function reusesAll(task: ShareTask, framesPerBlock: number): boolean {
  const frames = task.members.length * framesPerBlock;
  return task.featureStore !== undefined && task.lanes === 1 && task.frames.from === 0 && task.frames.to === frames && !task.cacheSlots && task.members.every((m) => m.features === 'reuse');
}

/**
 * Runs a {@link reusesAll} tick through `reuse`.
 *
 * @example
 * ```ts
 * const result = await runFusedReuse(task, reuse, data);
 * ```
 */
export async function runFusedReuse(task: ShareTask, reuse: ort.InferenceSession, data: LaneWorkerData, embed?: ort.InferenceSession, residuals?: readonly Float32Array[]): Promise<ShareResult> {
  const start = performance.now();
  const m = data.manifest;
  const F = m.framesPerBlock;
  const frames = task.members.length * F;
  const frameSize = m.latent.channels * m.latent.height * m.latent.width;
  const n = F * m.tokensPerFrame * m.width;
  const store = task.featureStore as FeatureStore;
  for (const member of task.members) {
    if (member.cache || member.stage === 0) throw new Error(`block ${member.block} cannot reuse features at stage ${member.stageName} (the cache step and the first step always compute)`);
  }
  const { latents, timesteps } = frameInputs(task.members, 0, frames, data);
  const residual = new Float32Array(task.members.length * n);
  // `residuals`: what to add to each member's embedding instead of its stored residual (fbcache's reuse after its first layer).
  task.members.forEach((member, i) => residual.set(residuals?.[i] ?? featureSlot(store, m, member.latentSlot).residual, i * n));
  const runStart = performance.now();
  const outputs = await reuse.run({
    latents: new ort.Tensor('float32', latents, [1, frames, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: new ort.Tensor('float32', timesteps, [1, frames]),
    [REUSE_IO.residual]: new ort.Tensor('float32', residual, [1, frames * m.tokensPerFrame, m.width]),
  });
  const runMs = performance.now() - runStart;
  const flow = (outputs[REUSE_IO.flow] as ort.Tensor).data as Float32Array;
  const embedded = (outputs[REUSE_IO.hidden] as ort.Tensor).data as Float32Array;

  const featureSums: MemberFeatureSums[] = [];
  const t = performance.now();
  if (store.track === 'first-input') {
    // teacache: a reusing member's layer-0 input (its embedding) against the previous step's, then kept.
    task.members.forEach((member, i) => {
      if (member.commit === false) return;
      const { change, base } = compareAndStore(embedded.subarray(i * n, (i + 1) * n), featureSlot(store, m, member.latentSlot).input(0), featureSlot(store, m, member.latentSlot, 'steps').input(0), true);
      featureSums.push({ block: member.block, stage: member.stage, change: [change], base: [base], reused: true });
    });
  }
  let featureMs = performance.now() - t;
  task.members.forEach((member, i) => {
    if (member.commit !== false) stepFrames(member, 0, F, flow.subarray(i * F * frameSize, (i + 1) * F * frameSize), data);
    crashIfDue(data.faults, 'share', 'after-step');
  });
  let sums = featureSums;
  if (store.track === 'first-input' && embed) {
    const l = performance.now();
    sums = withNextInputs(featureSums, await nextInputSums(embed, task.members.map((member, i) => ({ member, blockFrame: 0, count: F, embedded: embedded.subarray(i * n, (i + 1) * n) })), data));
    featureMs += performance.now() - l;
  }
  return { runMs, workerMs: performance.now() - start, exchangeWaitMs: 0, layerWaitsMs: [], featureSums: sums, featureMs };
}
