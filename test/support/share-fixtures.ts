/** Worker-level test fixtures: a package's layered graphs as a lane opens them, a one-lane share task. */
import * as ort from 'onnxruntime-node';
import type { LayeredSessions } from '../../src/engine/lanes/share-tick.js';
import { loadModelPackage } from '../../src/engine/model/loader.js';
import { buildFirstLayerGraph, buildFusedGraph, buildReuseGraph } from '../../src/engine/model/fused-graph.js';
import type { FeatureStore, ShareTask, TickMemberTask } from '../../src/protocol/lane-messages.js';
import type { ModelManifest } from '../../src/core/manifest-types.js';
import type { LaneWorkerData } from '../../src/engine/lanes/worker-data.js';
import { allocateFeatureCache, allocateMemory, planMemory, type SharedMemory } from '../../src/engine/memory/memory-plan.js';
import { slotView } from '../../src/engine/memory/slot-slab.js';
import type { ModelPaths } from '../../src/engine/model/loader.js';

/** One thread, on the CPU: what a lane of the tests runs with. */
export const TEST_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };

/**
 * Opens `embed`, `head`, and every layer's graph and K/V graph.
 *
 * @example
 * ```ts
 * const sessions = await openLayeredSessions((await loadModelPackage(RANDOM_MODEL)).paths.layered);
 * ```
 */
export async function openLayeredSessions(files: NonNullable<ModelPaths['layered']>): Promise<LayeredSessions> {
  const open = (file: string) => ort.InferenceSession.create(file, TEST_SESSION_OPTIONS);
  return {
    embed: await open(files.embed),
    head: await open(files.head),
    layers: await Promise.all(files.layers.map(open)),
    keyValues: await Promise.all(files.keyValues.map(open)),
  };
}

/**
 * A tick of `members` (each a block of `framesPerBlock` frames after a two-frame past, prompt 0)
 * on one lane alone: the share task the layered executor would hand it (bidirectional unless told).
 *
 * @example
 * ```ts
 * const task = oneLaneShare([memberTask({ block: 0, stage: 1, … }, schedule)], 3, store);
 * ```
 */
export function oneLaneShare(members: readonly TickMemberTask[], framesPerBlock: number, featureStore: FeatureStore, attention: ShareTask['attention'] = 'bidirectional'): ShareTask {
  const frames = members.length * framesPerBlock;
  return {
    kind: 'share',
    tick: 0,
    members,
    contextSlot: 0,
    attention,
    pastSlots: [0, 1],
    cacheSlots: null,
    frames: { from: 0, to: frames },
    lanes: 1,
    lane: 0,
    keyFrames: frames,
    waitFor: 1,
    featureStore,
  };
}

/**
 * A lane's memory for model `m` as a worker sees it, with a feature store, some prompt context
 * in slot 0 and some committed K/V for members to attend to.
 *
 * @example
 * ```ts
 * const { memory, store, data } = laneMemory(manifest);
 * ```
 */
export function laneMemory(m: ModelManifest): { memory: SharedMemory; store: FeatureStore; data: LaneWorkerData } {
  const memory = allocateMemory(m, planMemory(m));
  const store = allocateFeatureCache(m, planMemory(m, { featureCache: true }));
  const data: LaneWorkerData = { laneId: 0, lane: { device: 'cpu', threads: 1 }, manifest: m, files: undefined as never, ...memory, allowSpinning: false };
  slotView(memory.contexts, 0).forEach((_, i, a) => (a[i] = Math.sin(i * 0.37)));
  new Float32Array(memory.kv.keys).forEach((_, i, a) => (a[i] = Math.cos(i * 0.011) * 0.5));
  new Float32Array(memory.kv.values).forEach((_, i, a) => (a[i] = Math.sin(i * 0.017) * 0.5));
  return { memory, store, data };
}

/** What a worker-level feature-cache test runs on: a model's graphs as a lane opens them, and a lane's memory. */
export interface LaneFixture {
  readonly m: ModelManifest;
  readonly sessions: LayeredSessions;
  /** The fused forward, the reuse graph and fbcache's first-layer graph (`model/fused-graph.ts`). */
  readonly fused: ort.InferenceSession;
  readonly reuse: ort.InferenceSession;
  readonly first: ort.InferenceSession;
  readonly memory: SharedMemory;
  readonly store: FeatureStore;
  readonly data: LaneWorkerData;
  /** Releases every session. */
  release(): Promise<void>;
}

/**
 * Opens the package in `dir` as a lane would for feature caching, with {@link laneMemory}.
 *
 * @example
 * ```ts
 * const lane = await openLaneFixture(RANDOM_MODEL);
 * await lane.release();
 * ```
 */
export async function openLaneFixture(dir: string): Promise<LaneFixture> {
  const pkg = await loadModelPackage(dir);
  const m = pkg.manifest;
  const files = pkg.paths.layered;
  const sessions = await openLayeredSessions(files);
  const fused = await ort.InferenceSession.create(await buildFusedGraph(m, files), TEST_SESSION_OPTIONS);
  const reuse = await ort.InferenceSession.create(await buildReuseGraph(m, files), TEST_SESSION_OPTIONS);
  const first = await ort.InferenceSession.create(await buildFirstLayerGraph(m, files), TEST_SESSION_OPTIONS);
  return {
    m,
    sessions,
    fused,
    reuse,
    first,
    ...laneMemory(m),
    release: async () => {
      for (const s of [sessions.embed, sessions.head, ...sessions.layers, ...sessions.keyValues, fused, reuse, first]) await s.release();
    },
  };
}
