/**
 * A lane's share of a tick in `stale` execution (worker side): one monolithic forward over this
 * lane's frames of the tick, attending to the committed cache, to its own frames, and to the
 * tick's other frames through their K/V of the tick before (written by whichever lane computed
 * them then). No lane waits for another inside a tick: the price is that a block sees its
 * neighbours on the other lane one step behind. A tick of one block runs whole on one lane, so
 * the sequential pipeline (P0) is exact.
 *
 * `wavefront` execution runs the same forward exactly (`read: 'same'`): one block's frames, the
 * other members being the older blocks of its tick, whose K/V of this tick their own forwards
 * have already written to the store.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { LaneTiming, StaleTask, TickMemberTask } from '../../protocol/lane-messages.js';
import { gatherPastFrom, scatterPresent } from '../kv/kv-slabs.js';
import { kvTensorFloats } from '../kv/kv-layout.js';
import { buildAttentionMask, tickMaskFrames, type MaskFrame } from '../model/attention-mask.js';
import { slotView } from '../memory/slot-slab.js';
import { crashIfDue } from './faults.js';
import { denoiserFeeds, frameInputs, stepFrames } from './frame-range.js';
import { keyValueBuffers } from './sized-buffers.js';
import { stamp, stampIs, staleSlot } from './stale-store.js';
import type { LaneWorkerData } from './worker-data.js';

/**
 * Runs this lane's frames `[from, to)` of the tick (global frame indices, oldest block first).
 *
 * @example
 * ```ts
 * const timing = await runStaleShare(task, sessions.denoiser, workerData);
 * ```
 */
export async function runStaleShare(task: StaleTask, denoiser: ort.InferenceSession, data: LaneWorkerData): Promise<LaneTiming> {
  const start = performance.now();
  const m = data.manifest;
  const store = task.store;
  const F = m.framesPerBlock;
  const tpf = m.tokensPerFrame;
  const frameSize = m.latent.channels * m.latent.height * m.latent.width;
  const { from, to } = task.frames;
  const frames = to - from;
  const memberOf = (f: number) => task.members[Math.floor(f / F)] as TickMemberTask;
  const inputs = frameInputs(task.members, from, to, data);
  // The tick's other frames, as the tick before left them (a block that just started has none).
  const stale: { slot: number; frame: MaskFrame }[] = [];
  const total = task.members.length * F;
  const maskFrames = tickMaskFrames(task.members, F);
  const same = task.read === 'same';
  const readTick = same ? task.tick : task.tick - 1;
  for (let f = 0; f < total; f++) {
    if (f >= from && f < to) continue;
    const member = memberOf(f);
    const slot = staleSlot(store, readTick, member.latentSlot, f % F);
    if (same && !stampIs(store, slot, readTick, member.block)) {
      throw new Error(`tick ${task.tick}: block ${member.block}'s K/V of this tick are not in the store (frame ${f % F}): the wavefront ran block ${memberOf(from).block} before it`);
    }
    if (same || (member.stage > 0 && stampIs(store, slot, readTick, member.block))) stale.push({ slot, frame: maskFrames[f] as MaskFrame });
  }
  const past = gatherPastFrom([{ slabs: data.kv, slots: task.pastSlots }, { slabs: store.kv, slots: stale.map((s) => s.slot) }], keyValueBuffers(kvTensorFloats(data.kv.layout, task.pastSlots.length + stale.length)));
  const pastTokens = (task.pastSlots.length + stale.length) * tpf;
  const own = maskFrames.slice(from, to);
  const n = frames * tpf;
  const mask = buildAttentionMask({
    pastTokens: task.pastSlots.length * tpf,
    queryFrames: own,
    keyFrames: [...stale.map((s) => s.frame), ...own],
    tokensPerFrame: tpf,
    mode: task.attention,
    ...(task.window ? { window: task.window } : {}),
  });
  const t = performance.now();
  const outputs = await denoiser.run({
    ...denoiserFeeds(inputs, task.contextSlot, past, task.pastSlots.length + stale.length, data),
    attention_mask: new ort.Tensor('float32', mask, [1, 1, n, pastTokens + n]),
  });
  const runMs = performance.now() - t;
  const flow = (outputs['flow'] as ort.Tensor).data as Float32Array;
  const presentKey = (outputs['present_key'] as ort.Tensor).data as Float32Array;
  const presentValue = (outputs['present_value'] as ort.Tensor).data as Float32Array;
  // This tick's K/V of this lane's frames, for the other lanes' next tick.
  // A context-only member's K/V are written by the call that commits it.
  const kept = Array.from({ length: frames }, (_, i) => i).filter((i) => memberOf(from + i).commit !== false);
  const ownSlots = kept.map((i) => staleSlot(store, task.tick, memberOf(from + i).latentSlot, (from + i) % F));
  if (kept.length === frames) scatterPresent(store.kv, ownSlots, presentKey, presentValue);
  else kept.forEach((i, j) => scatterPresent(store.kv, [ownSlots[j] as number], presentKey, presentValue, { firstFrame: i, frames }));
  kept.forEach((i, j) => stamp(store, ownSlots[j] as number, task.tick, memberOf(from + i).block));
  for (let f = from; f < to; ) {
    const index = Math.floor(f / F);
    const member = task.members[index] as TickMemberTask;
    const end = Math.min(to, (index + 1) * F);
    if (member.commit === false) {
      f = end;
      continue;
    }
    if (member.cache) {
      // The caching block's clean K/V, for the frames this lane holds.
      if (!task.cacheSlots) throw new Error(`block ${member.block}: cache step without KV slots`);
      scatterPresent(data.kv, task.cacheSlots.slice(f % F, (f % F) + (end - f)), presentKey, presentValue, { firstFrame: f - from, frames });
      const latent = slotView(data.latents, member.latentSlot);
      for (let g = f; g < end; g++) slotView(data.cleanLatents, task.cacheSlots[g % F] as number).set(latent.subarray((g % F) * frameSize, (g % F + 1) * frameSize));
    } else {
      stepFrames(member, f % F, end - f, flow.subarray((f - from) * frameSize, (end - from) * frameSize), data);
      crashIfDue(data.faults, 'stale', 'after-step');
    }
    f = end;
  }
  return { runMs, workerMs: performance.now() - start };
}
