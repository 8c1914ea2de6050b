/**
 * The feature cache's fast paths, checked at the worker's level (this thread, the random model's
 * layered graphs and its fused forward): K/V are stored only when the store keeps them
 * (parallelism ≥ 1), a member that no longer measures stores no layer inputs and reports no sums,
 * and a tick's commit flips the slot's parity, so that a tick that is never committed (a lane
 * crashed) leaves the committed half as it was. Sentinels in both halves show what was written.
 */
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchedule } from '../src/core/sampler.js';
import type { FeatureUse } from '../src/core/tick.js';
import { memberTask } from '../src/engine/executors/joint.js';
import { gatherPast } from '../src/engine/kv/kv-slabs.js';
import { resetExchange } from '../src/engine/lanes/exchange.js';
import { usedIn, commitFeatureSteps, committedHalf, featureSlot, unreadRanges, type FeatureStore } from '../src/engine/lanes/feature-store.js';
import { runFusedShare } from '../src/engine/lanes/fused-share.js';
import { runShare, type LayeredSessions } from '../src/engine/lanes/share-tick.js';
import { oneLaneShare, openLaneFixture, type LaneFixture } from './support/share-fixtures.js';
import type { LaneWorkerData } from '../src/engine/lanes/worker-data.js';
import type { SharedMemory } from '../src/engine/memory/memory-plan.js';
import { slotView } from '../src/engine/memory/slot-slab.js';
import type { ModelManifest } from '../src/core/manifest-types.js';
import type { ShareResult, ShareTask } from '../src/protocol/lane-messages.js';
import { RANDOM_MODEL } from './support/models.js';

const STEPS = 12;
const SENTINEL = 7.25;

interface Member {
  readonly block: number;
  readonly stage: number;
  readonly slot: number;
  readonly use: FeatureUse;
  readonly x: Float32Array;
  readonly measure?: boolean;
}

describe('feature-cache fast paths', () => {
  let sessions: LayeredSessions;
  let fused: ort.InferenceSession;
  let m: ModelManifest;
  let memory: SharedMemory;
  let store: FeatureStore;
  let data: LaneWorkerData;

  let lane: LaneFixture;
  beforeAll(async () => {
    lane = await openLaneFixture(RANDOM_MODEL);
    ({ m, sessions, fused, memory, store, data } = lane);
  });
  afterAll(async () => {
    await lane?.release();
  });

  const input = (slot: number, phase: number) => slotView(memory.latents, slot).map((_, i) => Math.sin(i * 0.05 + phase));
  /** Both halves of `slot` filled with the sentinel. */
  const poison = (slot: number) => {
    for (const half of [store.buffer, store.steps]) new Float32Array(half, slot * store.slotLength * 4, store.slotLength).fill(SENTINEL);
  };
  const untouched = (a: Float32Array) => a.every((v) => v === SENTINEL);

  function taskOf(members: readonly Member[], featureStore: FeatureStore): ShareTask {
    const F = m.framesPerBlock;
    const schedule = buildSchedule(m.sampler, STEPS);
    return oneLaneShare(
      members.map((member) => ({
        ...memberTask({ block: member.block, stage: member.stage, features: member.use, seed: 5, latentSlot: member.slot, contextSlot: 0, positions: Array.from({ length: F }, (_, i) => 2 + member.block * F + i) }, schedule),
        ...(member.measure === false ? { measure: false } : {}),
      })),
      F,
      featureStore,
    );
  }

  /** One tick through the layered chain or the fused forward; committed unless `commit` is false (a lane crashed). */
  async function tick(members: readonly Member[], o: { fused?: boolean; commit?: boolean; keepKeyValues?: boolean; track?: 'first-input' | 'first-residual' } = {}): Promise<ShareResult> {
    for (const member of members) slotView(memory.latents, member.slot).set(member.x);
    resetExchange(memory.exchange);
    const featureStore: FeatureStore = { ...store, ...(o.track ? { track: o.track } : {}), ...(o.keepKeyValues === false ? { keepKeyValues: false } : {}) };
    const task = taskOf(members, featureStore);
    const context = slotView(memory.contexts, 0).slice();
    const result = o.fused ? await runFusedShare(task, fused, gatherPast(memory.kv, task.pastSlots), data) : await runShare(task, sessions, context, data);
    if (o.commit !== false) commitFeatureSteps(featureStore, m, members.map((member) => ({ latentSlot: member.slot, features: usedIn({ block: member.block, features: member.use }, result) })));
    return result;
  }

  for (const fusedPath of [false, true]) {
    const path = fusedPath ? 'fused' : 'layered';

    it(`${path}: without kept K/V (parallelism 0) a computed step writes no K/V to either half, and its reuse still works`, async () => {
      poison(3);
      const x = input(3, 0.4);
      const computed = await tick([{ block: 1, stage: 2, slot: 3, use: 'compute', x }], { fused: fusedPath, keepKeyValues: false });
      expect(computed.featureSums).toHaveLength(1);
      for (const side of ['committed', 'steps'] as const) {
        const slot = featureSlot(store, m, 3, side);
        for (let l = 0; l < m.layers; l++) expect(untouched(slot.key(l)) && untouched(slot.value(l))).toBe(true);
      }
      // The residual and the inputs were written (to the half that is committed now).
      const committed = featureSlot(store, m, 3);
      expect(untouched(committed.residual)).toBe(false);
      expect(untouched(committed.input(m.layers - 1))).toBe(false);
      const computedAfter = slotView(memory.latentSteps, 3).slice();
      await tick([{ block: 1, stage: 2, slot: 3, use: 'reuse', x }], { keepKeyValues: false });
      const reused = slotView(memory.latentSteps, 3);
      expect(reused.every((v, i) => Math.abs(v - (computedAfter[i] as number)) < 1e-5)).toBe(true);
    });

    it(`${path}: with kept K/V (parallelism ≥ 1) a computed step stores them`, async () => {
      poison(4);
      await tick([{ block: 2, stage: 2, slot: 4, use: 'compute', x: input(4, 0.8) }], { fused: fusedPath });
      const committed = featureSlot(store, m, 4);
      for (let l = 0; l < m.layers; l++) expect(untouched(committed.key(l)) || untouched(committed.value(l))).toBe(false);
    });

    it(`${path}: a member that no longer measures stores its residual only and reports no sums`, async () => {
      poison(5);
      const x = input(5, 1.2);
      const result = await tick([{ block: 3, stage: 5, slot: 5, use: 'compute', x, measure: false }], { fused: fusedPath, keepKeyValues: false });
      expect(result.featureSums).toEqual([]);
      const committed = featureSlot(store, m, 5);
      expect(untouched(committed.residual)).toBe(false);
      for (let l = 0; l < m.layers; l++) expect(untouched(committed.input(l))).toBe(true);
      // Its residual is the computed step's: a reuse of the same step makes the same latents.
      const computedAfter = slotView(memory.latentSteps, 5).slice();
      await tick([{ block: 3, stage: 5, slot: 5, use: 'reuse', x }], { keepKeyValues: false });
      expect(slotView(memory.latentSteps, 5).every((v, i) => Math.abs(v - (computedAfter[i] as number)) < 1e-5)).toBe(true);
    });

    it(`${path}: a tick that is not committed (a lane died) leaves the committed half and the parity as they were`, async () => {
      const x = input(6, 0.3);
      await tick([{ block: 4, stage: 1, slot: 6, use: 'compute', x }], { fused: fusedPath });
      const half = committedHalf(store, 6);
      const before = new Float32Array(half === 0 ? store.buffer : store.steps, 6 * store.slotLength * 4, store.slotLength).slice();
      await tick([{ block: 4, stage: 2, slot: 6, use: 'compute', x: input(6, 0.9) }], { fused: fusedPath, commit: false });
      expect(committedHalf(store, 6)).toBe(half);
      const committed = new Float32Array(half === 0 ? store.buffer : store.steps, 6 * store.slotLength * 4, store.slotLength);
      expect(committed.every((v, i) => Object.is(v, before[i]))).toBe(true);
      // The retried tick measures against the committed step, as if the first try never ran.
      const retried = await tick([{ block: 4, stage: 2, slot: 6, use: 'compute', x: input(6, 0.9) }], { fused: fusedPath });
      expect(committedHalf(store, 6)).toBe(half === 0 ? 1 : 0);
      const rerun = await (async () => {
        // The same two ticks on a fresh slot, committed both times: the same sums.
        await tick([{ block: 4, stage: 1, slot: 7, use: 'compute', x }], { fused: fusedPath });
        return tick([{ block: 4, stage: 2, slot: 7, use: 'compute', x: input(7, 0.9) }], { fused: fusedPath });
      })();
      expect(retried.featureSums).toEqual(rerun.featureSums);
      expect(retried.featureSums?.[0]?.change.every((c) => c > 0)).toBe(true);
    });
  }

  it('teacache: a reusing member commits its layer-0 input by a copy, without a flip; the computed step after it compares with that input', async () => {
    const x = input(2, 0.5);
    const y = input(2, 1.5);
    await tick([{ block: 5, stage: 2, slot: 2, use: 'compute', x }], { track: 'first-input' });
    const half = committedHalf(store, 2);
    const residual = featureSlot(store, m, 2).residual.slice();
    await tick([{ block: 5, stage: 3, slot: 2, use: 'reuse', x: y }], { track: 'first-input' });
    expect(committedHalf(store, 2)).toBe(half);
    expect(featureSlot(store, m, 2).residual).toEqual(residual);
    // Layer 0's input now is y's embedding: a computed step from y changes nothing at layer 0.
    const computed = await tick([{ block: 5, stage: 3, slot: 2, use: 'compute', x: y }], { track: 'first-input' });
    expect(computed.featureSums?.[0]?.change[0]).toBe(0);
    expect(computed.featureSums?.[0]?.change[1]).toBeGreaterThan(0);
  });

  it('without kept K/V, a reusing member in a tick where another computes fails loudly', async () => {
    await tick([{ block: 6, stage: 2, slot: 0, use: 'compute', x: input(0, 0.1) }], { keepKeyValues: false });
    const mixed = tick(
      [
        { block: 6, stage: 3, slot: 0, use: 'reuse', x: input(0, 0.1) },
        { block: 7, stage: 1, slot: 1, use: 'compute', x: input(1, 0.2) },
      ],
      { keepKeyValues: false },
    );
    await expect(mixed).rejects.toThrow(/block 6 reuses while other members compute, but the feature store keeps no K\/V/);
  });

  it('snapshots zero what no later tick reads: K/V when not kept, inputs when the block measures no more', () => {
    const hidden = m.framesPerBlock * m.tokensPerFrame * m.width;
    expect(unreadRanges(store, m, true)).toEqual([]);
    expect(unreadRanges({ ...store, keepKeyValues: false }, m, false)).toEqual([
      [0, m.layers * hidden],
      [(m.layers + 1) * hidden, store.slotLength],
    ]);
  });
});
