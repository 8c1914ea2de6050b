/**
 * First-block caching's step of a block alone on its lane (worker side; at P0 every deciding
 * step): the embedding and layer 0 in one call (`fuseFirstLayerGraph`), layer 0's output
 * residual compared with the block's last computed step, and then one more call — the whole
 * forward (`fused-share.ts`) when it computes, the reuse graph (`fused-reuse.ts`) fed layer 0's
 * output now plus the other layers' stored residual when it reuses — instead of the layered
 * chain's 2·layers + 2. The decision and the frames are the chain's to float rounding
 * (`share-tick.ts` decides the same way in cascades).
 */
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import type { ShareResult, ShareTask } from '../../protocol/lane-messages.js';
import type { KvTensors } from '../kv/kv-slabs.js';
import { firstResidualChange } from './feature-rows.js';
import { featureSlot, type FeatureStore } from './feature-store.js';
import { denoiserFeeds, frameInputs } from './frame-range.js';
import { runFusedReuse } from './fused-reuse.js';
import { runFusedShare } from './fused-share.js';
import { FIRST_LAYER_IO } from '../model/fused-graph.js';
import type { LaneWorkerData } from './worker-data.js';

/**
 * Whether `task` is one deciding block with every frame on this lane (what {@link runFirstLayer} takes).
 *
 * @example
 * ```ts
 * if (decidesAlone(task, 3)) return runFirstLayer(task, graphs, past, mask, data);
 * ```
 */
export function decidesAlone(task: ShareTask, framesPerBlock: number): boolean {
  const [member] = task.members;
  return task.members.length === 1 && member?.features === 'decide' && member.commit !== false && task.lanes === 1 && task.frames.from === 0 && task.frames.to === framesPerBlock && task.featureStore?.decideBelow !== undefined && task.featureStore.track === 'first-residual';
}

function output(outputs: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`the first-layer graph returned no output "${name}"`);
  return tensor.data as Float32Array;
}

/**
 * Runs a {@link decidesAlone} task: the embedding and layer 0, the decision, then the fused
 * forward or the reuse graph. `past` is the cache past (`[layers, 1, heads, T, headDim]`),
 * `mask` the joint call's mask over it and the block's own tokens.
 *
 * @example
 * ```ts
 * const result = await runFirstLayer(task, { first, fused, reuse }, gatherPast(d.kv, task.pastSlots), mask, d);
 * ```
 */
export async function runFirstLayer(
  task: ShareTask,
  graphs: { readonly first: ort.InferenceSession; readonly fused: ort.InferenceSession; readonly reuse: ort.InferenceSession },
  past: KvTensors,
  mask: Float32Array,
  data: LaneWorkerData,
): Promise<ShareResult> {
  const start = performance.now();
  const m = data.manifest;
  const F = m.framesPerBlock;
  const tpf = m.tokensPerFrame;
  const n = F * tpf * m.width;
  const member = task.members[0] as ShareTask['members'][number];
  const store = task.featureStore as FeatureStore;
  const feeds = denoiserFeeds(frameInputs(task.members, 0, F, data), task.contextSlot, past, task.pastSlots.length, data);
  feeds.attention_mask = new ort.Tensor('float32', mask, [1, 1, F * tpf, (task.pastSlots.length + F) * tpf]);
  const runStart = performance.now();
  const layer0 = await graphs.first.run(feeds);
  const runMs = performance.now() - runStart;
  const embedded = output(layer0, FIRST_LAYER_IO.hiddenIn);
  const out0 = output(layer0, FIRST_LAYER_IO.hiddenOut);
  const cached = featureSlot(store, m, member.latentSlot);
  const [change, base] = firstResidualChange(embedded, out0, cached.input(0), cached.input(1), n);
  const reuse = base > 0 && change / base < (store.decideBelow as number);
  const probeMs = performance.now() - start;
  if (!reuse) {
    const computed = await runFusedShare({ ...task, members: [{ ...member, features: 'compute' }] }, graphs.fused, past, data, mask);
    return {
      ...computed,
      runMs: computed.runMs + runMs,
      workerMs: computed.workerMs + probeMs,
      featureSums: (computed.featureSums ?? []).map((s) => (s.block === member.block ? { ...s, decided: 'compute' as const } : s)),
    };
  }
  // Layer 0's output now plus the other layers' residual of the last computed step (the whole
  // stack's minus layer 0's there), written as what the reuse graph adds to the embedding.
  const residual = new Float32Array(n);
  const [whole, in0, in1] = [cached.residual, cached.input(0), cached.input(1)];
  for (let i = 0; i < n; i++) residual[i] = (out0[i] as number) - (embedded[i] as number) + ((whole[i] as number) - ((in1[i] as number) - (in0[i] as number)));
  const reused = await runFusedReuse({ ...task, members: [{ ...member, features: 'reuse' }] }, graphs.reuse, data, undefined, [residual]);
  return {
    ...reused,
    runMs: reused.runMs + runMs,
    workerMs: reused.workerMs + probeMs,
    featureSums: [{ block: member.block, stage: member.stage, change: [], base: [], firstResidual: [change, base], reused: true, decided: 'reuse' }],
  };
}
