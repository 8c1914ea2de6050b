/**
 * A reused step, checked at the worker's level (`runShare` in this thread, on the random model's
 * layered graphs): with the residual and K/V cached at the same step from the same input, a
 * reused step gives what the computed step gave, within 1e-5, also for a computing member that
 * attends to the reusing one's cached K/V. A reused step writes neither the store nor the KV
 * cache. The peers' tracking (fbcache: layer 0's residual; teacache: a reusing member's layer-0
 * input) measures against the right step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchedule } from '../src/core/sampler.js';
import type { FeatureUse } from '../src/core/tick.js';
import { memberTask } from '../src/engine/executors/joint.js';
import { resetExchange } from '../src/engine/lanes/exchange.js';
import { usedIn, commitFeatureSteps, featureSlot, type FeatureStore } from '../src/engine/lanes/feature-store.js';
import { runShare, type LayeredSessions } from '../src/engine/lanes/share-tick.js';
import { oneLaneShare, openLaneFixture, type LaneFixture } from './support/share-fixtures.js';
import type { LaneWorkerData } from '../src/engine/lanes/worker-data.js';
import type { SharedMemory } from '../src/engine/memory/memory-plan.js';
import { slotView } from '../src/engine/memory/slot-slab.js';
import type { ModelManifest } from '../src/core/manifest-types.js';
import type { ShareTask } from '../src/protocol/lane-messages.js';
import { RANDOM_MODEL } from './support/models.js';
import type * as ort from 'onnxruntime-node';
import { gatherPast } from '../src/engine/kv/kv-slabs.js';
import { mixes, runFusedMixed } from '../src/engine/lanes/fused-mixed.js';
import { runFirstLayer } from '../src/engine/lanes/first-layer.js';
import { buildAttentionMask, tickMaskFrames } from '../src/engine/model/attention-mask.js';

const STEPS = 12;

describe('a reused step', () => {
  let sessions: LayeredSessions;
  let fused: ort.InferenceSession;
  let reuse: ort.InferenceSession;
  let m: ModelManifest;
  let memory: SharedMemory;
  let store: FeatureStore;
  let data: LaneWorkerData;
  const schedule = () => buildSchedule(m.sampler, STEPS);

  let lane: LaneFixture;
  beforeAll(async () => {
    lane = await openLaneFixture(RANDOM_MODEL);
    ({ m, sessions, fused, memory, store, data } = lane);
    reuse = lane.reuse;
  });
  afterAll(async () => {
    await lane?.release();
  });

  const input = (slot: number, phase: number) => slotView(memory.latents, slot).map((_, i) => Math.sin(i * 0.05 + phase));

  /** One tick over `members` (block, stage, latent slot, use), from the given latents; returns each member's staged latents after the step. */
  async function tick(members: readonly { block: number; stage: number; slot: number; use: FeatureUse; x: Float32Array }[], track?: 'first-input' | 'first-residual', via: 'chain' | 'fused' | 'first-layer' = 'chain', attention: 'causal' | 'bidirectional' = 'bidirectional', decideBelow?: number): Promise<{ after: Float32Array[]; result: Awaited<ReturnType<typeof runShare>> }> {
    for (const member of members) slotView(memory.latents, member.slot).set(member.x);
    const tickStore: FeatureStore = { ...store, ...(track ? { track } : {}), ...(decideBelow === undefined ? {} : { decideBelow }) };
    resetExchange(memory.exchange); // as the executors do before every tick (an aborted tick leaves it aborted)
    const F = m.framesPerBlock;
    const task: ShareTask = oneLaneShare(
      members.map((member) =>
        memberTask({ block: member.block, stage: member.stage, features: member.use, seed: 5, latentSlot: member.slot, contextSlot: 0, positions: Array.from({ length: F }, (_, i) => 2 + member.block * F + i) }, schedule()),
      ),
      F,
      tickStore,
      attention,
    );
    if (via === 'fused') expect(mixes(task, F)).toBe(true);
    const firstLayerMask = () => buildAttentionMask({ pastTokens: task.pastSlots.length * m.tokensPerFrame, queryFrames: tickMaskFrames(task.members, F), keyFrames: tickMaskFrames(task.members, F), tokensPerFrame: m.tokensPerFrame, mode: attention });
    const result =
      via === 'fused'
        ? await runFusedMixed(task, fused, reuse, gatherPast(memory.kv, task.pastSlots), data, sessions.embed)
        : via === 'first-layer'
          ? await runFirstLayer(task, { first: lane.first, fused, reuse }, gatherPast(memory.kv, task.pastSlots), firstLayerMask(), data)
          : await runShare(task, sessions, slotView(memory.contexts, 0).slice(), data);
    // The tick succeeded: commit its staged features, as the runtime does.
    commitFeatureSteps(tickStore, m, members.map((member) => ({ latentSlot: member.slot, features: usedIn({ block: member.block, features: member.use }, result) })));
    return { after: members.map((member) => slotView(memory.latentSteps, member.slot).slice()), result };
  }

  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - (b[i] as number))), 0);

  it('equals the computed step within 1e-5 when its residual was computed at the same step', async () => {
    const x = input(3, 0.3);
    const computed = await tick([{ block: 1, stage: 4, slot: 3, use: 'compute', x }]);
    expect(computed.result.featureSums).toHaveLength(1);
    const kept = featureSlot(store, m, 3);
    const storeBefore = { residual: kept.residual.slice(), key: kept.key(2).slice(), input: kept.input(1).slice() };
    const kvBefore = new Float32Array(memory.kv.keys).slice();
    const reused = await tick([{ block: 1, stage: 4, slot: 3, use: 'reuse', x }]);
    expect(maxDiff(reused.after[0] as Float32Array, computed.after[0] as Float32Array)).toBeLessThan(1e-5);
    // The step really moved the latents, and the reused one reported no indicator.
    expect(maxDiff(computed.after[0] as Float32Array, x)).toBeGreaterThan(1e-3);
    expect(reused.result.featureSums).toEqual([]);
    // A reused step writes nothing: not the store, not the KV cache.
    expect(kept.residual).toEqual(storeBefore.residual);
    expect(kept.key(2)).toEqual(storeBefore.key);
    expect(kept.input(1)).toEqual(storeBefore.input);
    expect(new Float32Array(memory.kv.keys)).toEqual(kvBefore);
  });

  it('in a mixed tick, a computing member attending to a reusing one sees the K/V of its last computed step', async () => {
    const a = input(4, 1.1);
    const b = input(5, 2.3);
    const all = await tick([
      { block: 2, stage: 6, slot: 4, use: 'compute', x: a },
      { block: 3, stage: 2, slot: 5, use: 'compute', x: b },
    ]);
    const mixed = await tick([
      { block: 2, stage: 6, slot: 4, use: 'reuse', x: a },
      { block: 3, stage: 2, slot: 5, use: 'compute', x: b },
    ]);
    expect(maxDiff(mixed.after[0] as Float32Array, all.after[0] as Float32Array)).toBeLessThan(1e-5);
    expect(maxDiff(mixed.after[1] as Float32Array, all.after[1] as Float32Array)).toBeLessThan(1e-5);
    expect(mixed.result.featureSums?.map((s) => s.block)).toEqual([3]);
  });

  for (const attention of ['causal', 'bidirectional'] as const) {
    it(`a mixed tick in two calls (the fused forward with the reusing member's K/V as past, then the reuse graph) steps as the layered chain does, ${attention}`, async () => {
      const members = [
        { block: 2, stage: 6, slot: 4, use: 'compute' as const, x: input(4, 0.4) },
        { block: 3, stage: 4, slot: 5, use: 'reuse' as const, x: input(5, 1.7) },
        { block: 4, stage: 2, slot: 6, use: 'compute' as const, x: input(6, 2.9) },
      ];
      // Every member computes once, so that the reusing one has a residual and K/V to reuse.
      await tick(members.map((member) => ({ ...member, use: 'compute' as const })), undefined, 'chain', attention);
      const chain = await tick(members, undefined, 'chain', attention);
      const fusedTick = await tick(members, undefined, 'fused', attention);
      for (let i = 0; i < members.length; i++) expect(maxDiff(fusedTick.after[i] as Float32Array, chain.after[i] as Float32Array)).toBeLessThan(1e-5);
      // The same members measured (the computing ones), no layer barrier.
      expect(fusedTick.result.featureSums?.map((s) => s.block)).toEqual([2, 4]);
      expect(chain.result.featureSums?.map((s) => s.block)).toEqual([2, 4]);
      expect(fusedTick.result.layerWaitsMs).toEqual([]);
    });
  }

  it('the indicator sums compare each layer input with the last computed step (zero change for the same input)', async () => {
    const x = input(6, 0.7);
    await tick([{ block: 4, stage: 1, slot: 6, use: 'compute', x }]);
    const again = await tick([{ block: 4, stage: 1, slot: 6, use: 'compute', x }]);
    const [sums] = again.result.featureSums ?? [];
    expect(sums?.change).toHaveLength(m.layers);
    for (const c of sums?.change ?? []) expect(c).toBe(0);
    for (const base of sums?.base ?? []) expect(base).toBeGreaterThan(0);
  });

  it('refuses to reuse at the first step or at the cache step', async () => {
    const x = input(7, 0.1);
    await expect(tick([{ block: 5, stage: 0, slot: 7, use: 'reuse', x }])).rejects.toThrow(/cannot reuse features at stage/);
    await expect(tick([{ block: 5, stage: STEPS, slot: 7, use: 'reuse', x }])).rejects.toThrow(/cannot reuse features at stage cache/);
  });

  it('fbcache tracking: layer 0\'s residual and the stack residual, against the last computed step', async () => {
    const x = input(2, 0.9);
    await tick([{ block: 6, stage: 2, slot: 2, use: 'compute', x }], 'first-residual');
    const same = await tick([{ block: 6, stage: 2, slot: 2, use: 'compute', x }], 'first-residual'); // same input, same step
    const [s0] = same.result.featureSums ?? [];
    expect(s0?.firstResidual?.[0]).toBe(0);
    expect(s0?.firstResidual?.[1]).toBeGreaterThan(0);
    // The stored residual is rounded to float32, the new one compared in float64: rounding only.
    expect(s0?.residual?.[1]).toBeGreaterThan(0);
    expect((s0?.residual?.[0] as number) / (s0?.residual?.[1] as number)).toBeLessThan(1e-6);
    const moved = await tick([{ block: 6, stage: 3, slot: 2, use: 'compute', x: input(2, 1.4) }], 'first-residual');
    const [s1] = moved.result.featureSums ?? [];
    expect(s1?.firstResidual?.[0]).toBeGreaterThan(0);
    expect(s1?.residual?.[0]).toBeGreaterThan(0);
    // Without tracking, nothing beyond bwcache's sums.
    const plain = await tick([{ block: 6, stage: 5, slot: 2, use: 'compute', x }]);
    expect(plain.result.featureSums?.[0]?.firstResidual).toBeUndefined();
  });

  it('teacache tracking: a reusing member reports layer 0\'s input change against the previous step and keeps its input', async () => {
    const x = input(1, 0.2);
    await tick([{ block: 7, stage: 2, slot: 1, use: 'compute', x }], 'first-input');
    const kept = featureSlot(store, m, 1);
    const residualBefore = kept.residual.slice();
    const reusedSame = await tick([{ block: 7, stage: 3, slot: 1, use: 'reuse', x }], 'first-input');
    expect(reusedSame.result.featureSums).toEqual([{ block: 7, stage: 3, change: [0], base: [expect.any(Number)], reused: true, nextInput: [expect.any(Number), expect.any(Number)] }]);
    const y = input(1, 0.6);
    const reusedMoved = await tick([{ block: 7, stage: 4, slot: 1, use: 'reuse', x: y }], 'first-input');
    const [s] = reusedMoved.result.featureSums ?? [];
    expect(s?.change[0]).toBeGreaterThan(0);
    // Compared with the previous (reused) step's input, which was kept: the same input again changes nothing.
    const again = await tick([{ block: 7, stage: 5, slot: 1, use: 'reuse', x: y }], 'first-input');
    expect(again.result.featureSums?.[0]?.change).toEqual([0]);
    // The residual is still the last computed step's.
    expect(kept.residual).toEqual(residualBefore);
  });

  it('fbcache: a deciding member runs layer 0, reuses the rest when its residual barely moved (the computed step\'s latents within 1e-5), computes when it moved', async () => {
    const x = input(6, 1.1);
    const computed = await tick([{ block: 10, stage: 2, slot: 6, use: 'compute', x }], 'first-residual', 'chain', 'bidirectional', 0.05);
    // The same input again: layer 0's residual is the last computed step's, so the rest is reused.
    const same = await tick([{ block: 10, stage: 2, slot: 6, use: 'decide', x }], 'first-residual', 'chain', 'bidirectional', 0.05);
    const decidedSame = same.result.featureSums?.find((s) => s.block === 10);
    expect(decidedSame?.decided).toBe('reuse');
    expect(decidedSame?.firstResidual?.[0]).toBe(0);
    expect(maxDiff(same.after[0] as Float32Array, computed.after[0] as Float32Array)).toBeLessThan(1e-5);
    // A slightly moved input: still reused, but from layer 0's output now plus the other layers'
    // residual, not from the embedding plus the whole stack's (the other policies' reuse): closer
    // to computing the step.
    const nudged = input(6, 1.1005);
    const decidedNudged = await tick([{ block: 10, stage: 2, slot: 6, use: 'decide', x: nudged }], 'first-residual', 'chain', 'bidirectional', 0.05);
    expect(decidedNudged.result.featureSums?.find((s) => s.block === 10)?.decided).toBe('reuse');
    const reusedNudged = await tick([{ block: 10, stage: 2, slot: 6, use: 'reuse', x: nudged }], 'first-residual', 'chain', 'bidirectional', 0.05);
    const computedNudged = await tick([{ block: 10, stage: 2, slot: 6, use: 'compute', x: nudged }], 'first-residual', 'chain', 'bidirectional', 0.05);
    const [viaFirst, viaWhole, exact] = [decidedNudged, reusedNudged, computedNudged].map((t) => t.after[0] as Float32Array) as [Float32Array, Float32Array, Float32Array];
    expect(maxDiff(viaFirst, viaWhole)).toBeGreaterThan(0);
    expect(maxDiff(viaFirst, exact)).toBeLessThan(maxDiff(viaWhole, exact));
    const moved = await tick([{ block: 10, stage: 3, slot: 6, use: 'decide', x: input(6, 2.7) }], 'first-residual', 'chain', 'bidirectional', 0.05);
    const decidedMoved = moved.result.featureSums?.find((s) => s.block === 10);
    expect((decidedMoved?.firstResidual?.[0] as number) / (decidedMoved?.firstResidual?.[1] as number)).toBeGreaterThan(0.05);
    expect(decidedMoved?.decided).toBe('compute');
    const plain = await tick([{ block: 10, stage: 3, slot: 6, use: 'compute', x: input(6, 2.7) }], 'first-residual', 'chain', 'bidirectional', 0.05);
    expect(maxDiff(moved.after[0] as Float32Array, plain.after[0] as Float32Array)).toBe(0);
    // Without a threshold in the store a lane cannot decide: refused, naming the block.
    await expect(tick([{ block: 10, stage: 4, slot: 6, use: 'decide', x }], 'first-residual')).rejects.toThrow(/block 10 decides after its first layer/);
  });

  it('fbcache, a block alone on its lane: layer 0, then one fused call, decides and steps as the layered chain does', async () => {
    for (const [phase, choice] of [[1.1003, 'reuse'], [2.9, 'compute']] as const) {
      const results: { after: Float32Array; decided: string | undefined; firstResidual: readonly number[] | undefined }[] = [];
      for (const via of ['chain', 'first-layer'] as const) {
        // The same last computed step before each, then the deciding step.
        await tick([{ block: 11, stage: 2, slot: 7, use: 'compute', x: input(7, 1.1) }], 'first-residual', 'chain', 'bidirectional', 0.05);
        const t = await tick([{ block: 11, stage: 2, slot: 7, use: 'decide', x: input(7, phase) }], 'first-residual', via, 'bidirectional', 0.05);
        const sums = t.result.featureSums?.find((f) => f.block === 11);
        results.push({ after: t.after[0] as Float32Array, decided: sums?.decided, firstResidual: sums?.firstResidual });
      }
      const [chain, firstLayer] = results as [(typeof results)[0], (typeof results)[0]];
      expect(chain.decided).toBe(choice);
      expect(firstLayer.decided).toBe(choice);
      expect(Math.abs((firstLayer.firstResidual?.[0] as number) - (chain.firstResidual?.[0] as number))).toBeLessThan(1e-6 * (chain.firstResidual?.[1] as number));
      expect(maxDiff(firstLayer.after, chain.after)).toBeLessThan(1e-5);
    }
  });

  for (const via of ['chain', 'fused'] as const) {
    it(`teacache look-ahead (${via}): a step reports the next step's layer-0 input change, the sums the next step then measures`, async () => {
      // The fused path runs ticks that mix computing and reusing members: block 9 is the other kind.
      const other = (stage: number, use: FeatureUse) => (via === 'fused' ? [{ block: 9, stage, slot: 5, use, x: input(5, 0.5) }] : []);
      const first = await tick([{ block: 8, stage: 2, slot: 4, use: 'compute' as const, x: input(4, 0.35) }, ...other(1, 'reuse')], 'first-input', via);
      const lookedAhead = first.result.featureSums?.find((s) => s.block === 8)?.nextInput;
      expect(lookedAhead?.[0]).toBeGreaterThan(0);
      // The next step, on the latents this one made: it measures its input against this step's.
      const next = await tick([{ block: 8, stage: 3, slot: 4, use: 'reuse' as const, x: first.after[0] as Float32Array }, ...other(2, 'compute')], 'first-input', via);
      const measured = next.result.featureSums?.find((s) => s.block === 8);
      if (via === 'chain') expect(lookedAhead).toEqual([measured?.change[0], measured?.base[0]]);
      // The reuse graph embeds inside a merged graph: the same sums to float rounding.
      else expect(Math.abs((lookedAhead?.[0] as number) / (lookedAhead?.[1] as number) - (measured?.change[0] as number) / (measured?.base[0] as number))).toBeLessThan(1e-6);
      // The last denoising step has no next one to measure.
      const last = await tick([{ block: 8, stage: STEPS - 1, slot: 4, use: 'compute' as const, x: input(4, 0.2) }, ...other(3, 'reuse')], 'first-input', via);
      expect(last.result.featureSums?.find((s) => s.block === 8)?.nextInput).toBeUndefined();
    });
  }
});
