/**
 * A reused step, checked at the worker's level (`runShare` in this thread, on the random model's
 * layered graphs): with the residual and K/V cached at the same step from the same input, a
 * reused step gives what the computed step gave, within 1e-5, also for a computing member that
 * attends to the reusing one's cached K/V. A reused step writes neither the store nor the KV
 * cache.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchedule } from '../src/core/sampler.js';
import type { FeatureUse } from '../src/core/tick.js';
import { memberTask } from '../src/engine/executors/joint.js';
import { featureSlot, type FeatureStore } from '../src/engine/lanes/feature-store.js';
import { runShare, type LayeredSessions } from '../src/engine/lanes/share-tick.js';
import type { LaneWorkerData } from '../src/engine/lanes/worker-data.js';
import { allocateFeatureCache, allocateMemory, planMemory, type SharedMemory } from '../src/engine/memory/memory-plan.js';
import { slotView } from '../src/engine/memory/slot-slab.js';
import { loadModelPackage } from '../src/engine/model/loader.js';
import type { ModelManifest } from '../src/core/manifest-types.js';
import type { ShareTask } from '../src/protocol/lane-messages.js';
import { RANDOM_MODEL } from './support/models.js';

const STEPS = 12;

describe('a reused step', () => {
  let sessions: LayeredSessions;
  let m: ModelManifest;
  let memory: SharedMemory;
  let store: FeatureStore;
  let data: LaneWorkerData;
  const schedule = () => buildSchedule(m.sampler, STEPS);

  beforeAll(async () => {
    const pkg = await loadModelPackage(RANDOM_MODEL);
    m = pkg.manifest;
    const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };
    const files = pkg.paths.layered;
    sessions = {
      embed: await ort.InferenceSession.create(files.embed, options),
      head: await ort.InferenceSession.create(files.head, options),
      layers: await Promise.all(files.layers.map((f) => ort.InferenceSession.create(f, options))),
      keyValues: await Promise.all(files.keyValues.map((f) => ort.InferenceSession.create(f, options))),
    };
    memory = allocateMemory(m, planMemory(m));
    store = allocateFeatureCache(m, planMemory(m, { featureCache: true }));
    data = { laneId: 0, lane: { device: 'cpu', threads: 1 }, manifest: m, files: undefined as never, ...memory, allowSpinning: false };
    // Some context and some committed past (two frames of K/V) for the members to attend to.
    slotView(memory.contexts, 0).forEach((_, i, a) => (a[i] = Math.sin(i * 0.37)));
    new Float32Array(memory.kv.keys).forEach((_, i, a) => (a[i] = Math.cos(i * 0.011) * 0.5));
    new Float32Array(memory.kv.values).forEach((_, i, a) => (a[i] = Math.sin(i * 0.017) * 0.5));
  });
  afterAll(async () => {
    for (const s of [sessions.embed, sessions.head, ...sessions.layers, ...sessions.keyValues]) await s.release();
  });

  const input = (slot: number, phase: number) => slotView(memory.latents, slot).map((_, i) => Math.sin(i * 0.05 + phase));

  /** One tick over `members` (block, stage, latent slot, use), from the given latents; returns each member's latents after the step. */
  async function tick(members: readonly { block: number; stage: number; slot: number; use: FeatureUse; x: Float32Array }[]): Promise<{ after: Float32Array[]; result: Awaited<ReturnType<typeof runShare>> }> {
    for (const member of members) slotView(memory.latents, member.slot).set(member.x);
    const F = m.framesPerBlock;
    const task: ShareTask = {
      kind: 'share',
      tick: 0,
      members: members.map((member) =>
        memberTask({ block: member.block, stage: member.stage, features: member.use, seed: 5, latentSlot: member.slot, contextSlot: 0, positions: Array.from({ length: F }, (_, i) => 2 + member.block * F + i) }, schedule()),
      ),
      contextSlot: 0,
      attention: 'bidirectional',
      pastSlots: [0, 1],
      cacheSlots: null,
      frames: { from: 0, to: members.length * F },
      lanes: 1,
      featureStore: store,
    };
    const result = await runShare(task, sessions, slotView(memory.contexts, 0).slice(), data);
    return { after: members.map((member) => slotView(memory.latents, member.slot).slice()), result };
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
});
