/**
 * First-block caching's step of a block alone on its lane (worker side; at P0 every deciding
 * step): the embedding, layer 0's K/V graph and layer 0 run as the layered chain runs them, layer
 * 0's output residual is compared with the block's last computed step, and then the step runs
 * fused — the whole forward (`fused-share.ts`) when it computes, the reuse graph
 * (`fused-reuse.ts`) fed layer 0's output now plus the other layers' stored residual when it
 * reuses — instead of the remaining 2·(layers − 1) + 1 calls of the chain. The decision and the
 * frames are the chain's to float rounding (`share-tick.ts` decides the same way in cascades).
 */
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import type { ShareResult, ShareTask } from '../../protocol/lane-messages.js';
import type { KvTensors } from '../kv/kv-slabs.js';
import { slotView } from '../memory/slot-slab.js';
import { firstResidualChange } from './feature-rows.js';
import { featureSlot, type FeatureStore } from './feature-store.js';
import { frameInputs } from './frame-range.js';
import { runFusedReuse } from './fused-reuse.js';
import { runFusedShare } from './fused-share.js';
import type { LayeredSessions } from './share-tick.js';
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
  if (!tensor) throw new Error(`the layered model returned no output "${name}"`);
  return tensor.data as Float32Array;
}

/**
 * Runs a {@link decidesAlone} task: layer 0 through the layered graphs, the decision, then the
 * fused forward or the reuse graph. `past` is the cache past (`[layers, 1, heads, T, headDim]`),
 * `mask` the joint call's mask over it and the block's own tokens.
 *
 * @example
 * ```ts
 * const result = await runFirstLayer(task, { layered, fused, reuse, embed }, gatherPast(d.kv, task.pastSlots), mask, d);
 * ```
 */
export async function runFirstLayer(
  task: ShareTask,
  graphs: { readonly layered: LayeredSessions; readonly fused: ort.InferenceSession; readonly reuse: ort.InferenceSession },
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
  const { latents, timesteps, positions } = frameInputs(task.members, 0, F, data);
  let runMs = 0;
  const run = async (session: ort.InferenceSession, feeds: Record<string, ort.Tensor>) => {
    const t = performance.now();
    const outputs = await session.run(feeds);
    runMs += performance.now() - t;
    return outputs;
  };
  const e = await run(graphs.layered.embed, {
    latents: new ort.Tensor('float32', latents, [1, F, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: new ort.Tensor('float32', timesteps, [1, F]),
  });
  const embedded = output(e, 'hidden');
  const timeEmbedding = new ort.Tensor('float32', output(e, 'time_embedding'), [1, F, m.width]);
  const framePositions = new ort.Tensor('float32', positions, [1, F]);
  const hidden = new ort.Tensor('float32', embedded, [1, F * tpf, m.width]);
  const own = await run(graphs.layered.keyValues[0] as ort.InferenceSession, { hidden, time_embedding: timeEmbedding, frame_positions: framePositions });
  // Layer 0's keys as the chain lays them out: the cache past, then the block's own tokens.
  const pastTokens = task.pastSlots.length * tpf;
  const tokens = pastTokens + F * tpf;
  const join = (pastAll: Float32Array, mine: Float32Array): Float32Array => {
    const out = new Float32Array(m.heads * tokens * m.headDim);
    for (let h = 0; h < m.heads; h++) {
      out.set(pastAll.subarray(h * pastTokens * m.headDim, (h + 1) * pastTokens * m.headDim), h * tokens * m.headDim);
      out.set(mine.subarray(h * F * tpf * m.headDim, (h + 1) * F * tpf * m.headDim), (h * tokens + pastTokens) * m.headDim);
    }
    return out;
  };
  const dims = [1, m.heads, tokens, m.headDim];
  const layer0 = await run(graphs.layered.layers[0] as ort.InferenceSession, {
    hidden,
    time_embedding: timeEmbedding,
    frame_positions: framePositions,
    context: new ort.Tensor('float32', slotView(data.contexts, task.contextSlot).slice(), [1, m.text.maxTokens, m.text.contextDim]),
    key: new ort.Tensor('float32', join(past.key, output(own, 'key')), dims),
    value: new ort.Tensor('float32', join(past.value, output(own, 'value')), dims),
    attention_mask: new ort.Tensor('float32', mask, [1, 1, F * tpf, tokens]),
  });
  const out0 = output(layer0, 'hidden_out');
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
