/**
 * A tick on one lane that mixes computing and reusing members, in two `session.run` calls
 * (worker side) instead of the layered chain's 2·layers + 2: the fused forward runs the
 * computing members, and the reuse graph the reusing ones.
 *
 * In the layered chain the computing members attend, at every layer, to the reusing members'
 * K/V from their last computed step, which the store keeps for that purpose. Here those K/V are
 * appended to the past of the fused call, layer by layer, and the attention mask gives them the
 * tick's visibility (under causal attention a computing block sees a reusing block only if it is
 * not newer). The keys are the same as the chain's, in another order ([past; reusing; computing]
 * instead of block order), so the frames equal the chain's to float rounding, and repeat byte
 * for byte. A tick that also carries context-only members (`commit: false`, a prompt switch
 * inside a cascade) stays on the chain.
 */
import type * as ort from 'onnxruntime-node';
import type { ShareResult, ShareTask } from '../../protocol/lane-messages.js';
import type { KvTensors } from '../kv/kv-slabs.js';
import { buildAttentionMask, tickMaskFrames } from '../model/attention-mask.js';
import { featureSlot, type FeatureStore } from './feature-store.js';
import { runFusedReuse } from './fused-reuse.js';
import { runFusedShare } from './fused-share.js';
import type { LaneWorkerData } from './worker-data.js';

/**
 * Whether `task` can run mixed: caching is on with K/V kept, the tick is on this lane alone,
 * some members compute and some reuse, none is context-only, and a caching member comes first.
 *
 * @example
 * ```ts
 * if (mixes(task, 3)) return runFusedMixed(task, fused, reuse, past, data);
 * ```
 */
export function mixes(task: ShareTask, framesPerBlock: number): boolean {
  const frames = task.members.length * framesPerBlock;
  const store = task.featureStore;
  if (!store || store.keepKeyValues === false || task.lanes !== 1 || task.frames.from !== 0 || task.frames.to !== frames || task.keyFrames !== frames) return false;
  // A member that decides after its first layer needs the layer-by-layer chain.
  if (task.members.some((m) => m.features === 'decide')) return false;
  const computing = task.members.filter((m) => m.features !== 'reuse');
  // The caching member (the oldest block, which always computes) leads the fused call's frames.
  const caching = task.members.find((m) => m.cache);
  if (caching && computing[0] !== caching) return false;
  return computing.length > 0 && computing.length < task.members.length && task.members.every((m) => m.commit !== false);
}

/**
 * Runs a {@link mixes} tick: the computing members through `fused` with the reusing members'
 * stored K/V appended to `past` (the cache past of `task.pastSlots`), then the reusing members
 * through `reuse`.
 *
 * @example
 * ```ts
 * const result = await runFusedMixed(task, await loadFused(), await loadReuse(), pastFor(task, d), d);
 * ```
 */
export async function runFusedMixed(task: ShareTask, fused: ort.InferenceSession, reuse: ort.InferenceSession, past: KvTensors, data: LaneWorkerData, embed?: ort.InferenceSession): Promise<ShareResult> {
  const m = data.manifest;
  const F = m.framesPerBlock;
  const tpf = m.tokensPerFrame;
  const store = task.featureStore as FeatureStore;
  const reusing = task.members.filter((member) => member.features === 'reuse');
  const computing = task.members.filter((member) => member.features !== 'reuse');
  const pastFrames = task.pastSlots.length + reusing.length * F;
  const computingFrames = tickMaskFrames(computing, F);
  const mask = buildAttentionMask({
    pastTokens: task.pastSlots.length * tpf,
    queryFrames: computingFrames,
    keyFrames: [...tickMaskFrames(reusing, F), ...computingFrames],
    tokensPerFrame: tpf,
    mode: task.attention,
    ...(task.window ? { window: task.window } : {}),
  });
  const frames = computing.length * F;
  const computed = await runFusedShare({ ...task, members: computing, frames: { from: 0, to: frames }, keyFrames: frames }, fused, withStored(past, task.pastSlots.length * tpf, reusing, store, data), data, mask, pastFrames, embed);
  const reused = await runFusedReuse({ ...task, members: reusing, frames: { from: 0, to: reusing.length * F }, keyFrames: reusing.length * F, cacheSlots: null }, reuse, data, embed);
  return {
    runMs: computed.runMs + reused.runMs,
    workerMs: computed.workerMs + reused.workerMs,
    exchangeWaitMs: 0,
    layerWaitsMs: [],
    featureSums: [...(computed.featureSums ?? []), ...(reused.featureSums ?? [])],
    featureMs: (computed.featureMs ?? 0) + (reused.featureMs ?? 0),
  };
}

/** `past` (`[layers, 1, heads, T, headDim]`, T = `pastTokens`) with each reusing member's stored K/V appended per layer and head. */
function withStored(past: KvTensors, pastTokens: number, reusing: readonly ShareTask['members'][number][], store: FeatureStore, data: LaneWorkerData): KvTensors {
  const m = data.manifest;
  const rows = m.framesPerBlock * m.tokensPerFrame;
  const tokens = pastTokens + reusing.length * rows;
  const join = (from: Float32Array<ArrayBufferLike>, stored: (slot: ReturnType<typeof featureSlot>, layer: number) => Float32Array): Float32Array => {
    const out = new Float32Array(m.layers * m.heads * tokens * m.headDim);
    const slots = reusing.map((member) => featureSlot(store, m, member.latentSlot));
    for (let l = 0; l < m.layers; l++) {
      for (let h = 0; h < m.heads; h++) {
        const at = ((l * m.heads + h) * tokens) * m.headDim;
        const src = ((l * m.heads + h) * pastTokens) * m.headDim;
        out.set(from.subarray(src, src + pastTokens * m.headDim), at);
        slots.forEach((slot, r) => {
          // A slot's K/V are [head][token][headDim] over the block's own tokens.
          const kept = stored(slot, l).subarray(h * rows * m.headDim, (h + 1) * rows * m.headDim);
          out.set(kept, at + (pastTokens + r * rows) * m.headDim);
        });
      }
    }
    return out;
  };
  return { key: join(past.key, (slot, l) => slot.key(l)), value: join(past.value, (slot, l) => slot.value(l)) };
}
