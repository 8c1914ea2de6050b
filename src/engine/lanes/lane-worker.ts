/**
 * The body of a lane: one worker thread that owns the ONNX Runtime sessions of one device.
 *
 * Sessions are created once, by the start-up ping, which also runs them once on zero inputs
 * (`warm-up.ts`), so the first forward costs what later ones cost.
 * `session.run` blocks this thread for the whole forward, which is why forwards never run on
 * the thread that hosts the actors.
 */
import { workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { AHEAD_CANCEL, AHEAD_STEP_FLOATS, AHEAD_TAIL_FLOATS, type AheadTask, type BatchResult, type BatchTask, type DecodeResult, type DecodeTask, type EncodeTask, type LaneTask, type LaneTiming, type RecacheTask, type ShareResult, type ShareTask, type TickMemberTask, type TickTask } from '../../protocol/lane-messages.js';
import { createFeatureCachePolicy, type FeatureCachePolicy, type MemberIndicator } from '../../core/feature-cache.js';
import { windowHides, type TickWindow } from '../../core/tick.js';
import { indicatorsOf } from './feature-indicators.js';
import { commitFeatureSteps, usedIn } from './feature-store.js';
import { samplerStep, stepNeedsNoise } from '../../core/sampler.js';
import { gatherPast, kvTensorFloats, scatterPresent, type KvTensors } from '../kv/kv-slabs.js';
import { buildAttentionMask, tickMaskFrames, type MaskFrame } from '../model/attention-mask.js';
import { slotView } from '../memory/slot-slab.js';
import { gatherCleanLatents, storeCleanLatents } from './clean-latents.js';
import { runShare } from './share-tick.js';
import { fusable, runFusedShare } from './fused-share.js';
import { reusesAll, runFusedReuse } from './fused-reuse.js';
import { MAX_RUN_STEPS, runReuseSteps, runUpdate } from './reuse-run.js';
import { decidesAlone, runFirstLayer } from './first-layer.js';
import { mixes, runFusedMixed } from './fused-mixed.js';
import { runStaleShare } from './stale-tick.js';
import { denoiserFeeds, frameInputs, stepNoise } from './frame-range.js';
import { crashIfDue, taskStarted } from './faults.js';
import { warmUp } from './warm-up.js';
import type { RunUpdate } from '../model/reuse-run-graph.js';
import { LaneSessions, type PackageSessions } from './lane-sessions.js';
import { batchAxisOf, itemOf, stackBatch, type DenseTensor } from './batch-tensors.js';
import { applyOnnxLogLevel, DEFAULT_ONNX_LOG_LEVEL } from './execution-provider.js';
import type { LaneWorkerData, LaneWorkerInit } from './worker-data.js';

const data = workerData as LaneWorkerInit;
/** Each memory set as its tasks see it (the lane's data and that set's slabs), made once. */
const views = new Map<number, LaneWorkerData>();

/** The slabs of `task`'s memory set (one concurrent session's), with the lane's own data. */
function memoryOf(task: { readonly memory?: number }): LaneWorkerData {
  const index = task.memory ?? 0;
  let view = views.get(index);
  if (view === undefined) {
    const memory = data.memories[index];
    if (!Number.isInteger(index) || memory === undefined) throw new RangeError(`lane ${data.laneId}: memory set ${index} is outside the runtime's ${data.memories.length}`);
    const { memories: _, ...common } = data;
    view = { ...common, ...memory };
    views.set(index, view);
  }
  return view;
}
const m = data.manifest;
const framesPerBlock = m.framesPerBlock;
const latentFrameSize = m.latent.channels * m.latent.height * m.latent.width;
const latentDims = [1, framesPerBlock, m.latent.channels, m.latent.height, m.latent.width];
const onnxLogLevel = data.onnxLogLevel ?? DEFAULT_ONNX_LOG_LEVEL;
// ONNX Runtime's process-wide logger, read when its environment is created (the first session).
applyOnnxLogLevel(onnxLogLevel);

/**
 * The lane's sessions. The package's are created by the first task (the runtime sends a `ping`
 * at start-up), not by a top-level await: under tsx, Node 20 workers cannot load a TypeScript
 * module that has one.
 */
const lane = new LaneSessions(data, onnxLogLevel);

/** Runs a session and times only `session.run`, the part the runtime cannot make cheaper. */
async function timedRun(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
): Promise<{ outputs: ort.InferenceSession.OnnxValueMapType; runMs: number }> {
  const start = performance.now();
  const outputs = await session.run(feeds);
  return { outputs, runMs: performance.now() - start };
}

function output(outputs: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`lane ${data.laneId}: the model returned no output "${name}"`);
  return tensor.data as Float32Array;
}

async function encode(task: EncodeTask, { textEncoder }: PackageSessions): Promise<LaneTiming> {
  const start = performance.now();
  const d = memoryOf(task);
  const tokens = BigInt64Array.from(task.tokens, (t) => BigInt(t));
  const { outputs, runMs } = await timedRun(textEncoder, {
    tokens: new ort.Tensor('int64', tokens, [1, tokens.length]),
  });
  slotView(d.contexts, task.contextSlot).set(output(outputs, 'context'));
  return { runMs, workerMs: performance.now() - start };
}

/**
 * The last past gathered on this lane, by its memory set and key: a block's forwards at P0
 * share one. Concurrent sessions' ticks interleave on a lane, so each set keeps its own.
 */
const lastPast = new Map<number, { readonly key: string | undefined; readonly past: KvTensors }>();

/**
 * Each memory set's past buffers, of its pool's capacity: a past is a view of their start.
 * Memory the process never wrote to page-faults on the first write (20–55 ms for the 18 MiB of
 * the medium model's full window on this VM), which a fresh array per past paid every block at
 * P0 and at every replayed cache step of a resume, as the past grew.
 */
const pastBuffers = new Map<number, KvTensors>();

function pastFor(task: Pick<TickTask, 'memory' | 'pastKey' | 'pastSlots'>, d: LaneWorkerData): KvTensors {
  const memory = task.memory ?? 0;
  const last = lastPast.get(memory);
  if (task.pastKey !== undefined && last?.key === task.pastKey) return last.past;
  let buffers = pastBuffers.get(memory);
  if (buffers === undefined) {
    const capacity = kvTensorFloats(d.kv.layout, d.kv.layout.capacitySlots);
    buffers = { key: new Float32Array(capacity), value: new Float32Array(capacity) };
    pastBuffers.set(memory, buffers);
  }
  // Overwritten in place: a lane runs one task at a time and no call keeps its feeds, so the
  // past before this one is never read again.
  const floats = kvTensorFloats(d.kv.layout, task.pastSlots.length);
  const past = gatherPast(d.kv, task.pastSlots, { key: buffers.key.subarray(0, floats), value: buffers.value.subarray(0, floats) });
  lastPast.set(memory, { key: task.pastKey, past });
  return past;
}

/**
 * The last joint mask built on this lane, per memory set (sessions interleave on a lane): it
 * depends only on the past's length, the block count, the mode and, with the trained window,
 * which key frames each block cannot see.
 */
const lastMask = new Map<number, { readonly key: string; readonly mask: Float32Array }>();

/** The joint call's mask of a tick (queries and keys: every member's frames, oldest first). */
function jointMask(task: Pick<TickTask, 'memory' | 'pastSlots' | 'members' | 'attention' | 'window'>): Float32Array {
  const pastTokens = task.pastSlots.length * m.tokensPerFrame;
  const inFlight = tickMaskFrames(task.members, framesPerBlock);
  const key = `${pastTokens}:${task.members.length}:${task.attention}${task.window ? `:${hiddenPattern(task.window, inFlight)}` : ''}`;
  const memory = task.memory ?? 0;
  const last = lastMask.get(memory);
  if (last?.key === key) return last.mask;
  const mask = buildAttentionMask({ pastTokens, queryFrames: inFlight, keyFrames: inFlight, tokensPerFrame: m.tokensPerFrame, mode: task.attention, ...(task.window ? { window: task.window } : {}) });
  lastMask.set(memory, { key, mask });
  return mask;
}

/** Per block of the tick, which past and in-flight frames the window hides from it: what the mask's window part depends on. */
function hiddenPattern(window: TickWindow, frames: readonly MaskFrame[]): string {
  const keys = [...window.pastPositions, ...frames.map((f) => f.position as number)];
  const starts = [...new Set(frames.map((f) => f.blockStart as number))];
  return starts.map((start) => keys.map((position) => (windowHides(window, start, position) ? 1 : 0)).join('')).join('/');
}

/** One joint tick's denoiser feeds (mask included), from its memory set. */
function tickFeeds(task: TickTask, d: LaneWorkerData, denoiser: ort.InferenceSession): Record<string, ort.Tensor> {
  const members = task.members;
  const frames = members.length * framesPerBlock;
  const pastTokens = task.pastSlots.length * m.tokensPerFrame;
  // A block's first step starts from pure noise drawn for (seed, block, step 0).
  const feeds = denoiserFeeds(frameInputs(members, 0, frames, d), task.contextSlot, pastFor(task, d), task.pastSlots.length, d);
  if (denoiser.inputNames.includes('attention_mask')) {
    const n = frames * m.tokensPerFrame;
    // Queries and keys are the same in-flight frames: the joint call's mask (all zeros, i.e.
    // no change to any float, for a single block).
    const mask = jointMask(task);
    feeds.attention_mask = new ort.Tensor('float32', mask, [1, 1, n, pastTokens + n]);
  } else if ((task.attention === 'causal' || task.window) && members.length > 1) {
    throw new Error(`${task.window ? 'the trained cascade window' : 'causal attention inside the cascade window'} needs a model with an "attention_mask" input`);
  }
  return feeds;
}

/** What one tick keeps of its call's outputs: the cache step's K/V, the others' staged sampler steps. */
function applyTick(task: TickTask, d: LaneWorkerData, flow: Float32Array, presentKey: () => Float32Array, presentValue: () => Float32Array): void {
  const members = task.members;
  const frames = members.length * framesPerBlock;
  const blockSize = framesPerBlock * latentFrameSize;
  members.forEach((member, i) => {
    if (member.commit === false) return;
    if (member.cache) {
      // Cache step: only the clean K/V matter; the flow of a block fed at σ = 0 is discarded.
      if (!task.cacheSlots) throw new Error(`block ${member.block}: cache step without KV slots`);
      scatterPresent(d.kv, task.cacheSlots, presentKey(), presentValue(), { firstFrame: i * framesPerBlock, frames });
      storeCleanLatents(d.latents, d.cleanLatents, member.latentSlot, task.cacheSlots);
      return;
    }
    const latent = slotView(d.latents, member.latentSlot);
    const noise = stepNeedsNoise(member.sigmaNext, m.sampler.update)
      ? stepNoise(member, latent.length)
      : null;
    // Staged: the actor thread commits it once the tick has succeeded on every lane.
    samplerStep(latent, flow.subarray(i * blockSize, (i + 1) * blockSize), member.sigma, member.sigmaNext, noise, slotView(d.latentSteps, member.latentSlot), m.sampler.update);
    crashIfDue(data.faults, 'tick', 'after-step');
  });
}

async function tick(task: TickTask, { denoiser }: PackageSessions): Promise<LaneTiming> {
  const start = performance.now();
  const d = memoryOf(task);
  const { outputs, runMs } = await timedRun(denoiser, tickFeeds(task, d, denoiser));
  applyTick(task, d, output(outputs, 'flow'), () => output(outputs, 'present_key'), () => output(outputs, 'present_value'));
  return { runMs, workerMs: performance.now() - start };
}

/** A tick's share on this lane, through the fastest graphs that can run it. */
async function share(task: ShareTask): Promise<ShareResult> {
  const d = memoryOf(task);
  const look = task.featureStore?.track === 'first-input' ? await lane.embed() : undefined;
  // fbcache, one block alone (P0): the embedding and layer 0 in one call, then one more.
  if (data.fusedForward !== false && decidesAlone(task, framesPerBlock)) {
    return runFirstLayer(task, { first: await lane.firstLayer(), fused: await lane.fused(), reuse: await lane.reuse() }, pastFor(task, d), jointMask(task), d);
  }
  // A tick on this lane alone in which every member computes: one call instead of 2·layers + 2.
  if (data.fusedForward !== false && fusable(task, framesPerBlock)) {
    // Its queries and keys are the joint call's (every member's frames, oldest first): the lane's kept joint mask.
    const mask = jointMask(task);
    return runFusedShare(task, await lane.fused(), pastFor(task, d), d, mask, task.pastSlots.length, look);
  }
  // Only the fused forward copies a cache step's K/V out; nothing below would.
  if (task.presentTo) throw new Error(`block ${task.members[0]?.block}: a cache step run ahead needs the fused forward (a one-lane tick in which every member computes)`);
  // Every member reuses: embed + residual + head in one call instead of two.
  if (data.fusedForward !== false && reusesAll(task, framesPerBlock)) return runFusedReuse(task, await lane.reuse(), d, look);
  // Some compute, some reuse: the fused forward over the computing ones, the reuse graph for the others.
  if (data.fusedForward !== false && mixes(task, framesPerBlock)) return runFusedMixed(task, await lane.fused(), await lane.reuse(), pastFor(task, d), d, look);
  return runShare(task, await lane.layered(), slotView(d.contexts, task.contextSlot).slice(), d);
}

/**
 * From step `s` of a block's steps, the stretch that reuses one step after another and can run
 * as one call (`reuse-run.ts`): two steps or more, once the block's bwcache schedule is fixed
 * (its decisions then depend on nothing the steps measure), each through the reuse graph on
 * this lane alone; null otherwise.
 */
function reuseRunAt(steps: readonly (TickTask | ShareTask)[], s: number, policy: FeatureCachePolicy | null): { readonly steps: ShareTask[]; readonly update: RunUpdate } | null {
  if (data.fusedForward === false || data.reuseRuns === false || policy?.settings.policy !== 'bwcache') return null;
  const run: ShareTask[] = [];
  let update: RunUpdate | null = null;
  for (let j = s; j < steps.length && run.length < MAX_RUN_STEPS; j++) {
    const step = steps[j];
    if (step?.kind !== 'share') break;
    const member = step.members[0] as TickMemberTask;
    if (policy.measures(member.block) || policy.use(member.block, member.stage) !== 'reuse') break;
    const stepUpdate = runUpdate(m.sampler.update, member.sigmaNext);
    if (stepUpdate === null || (update !== null && stepUpdate !== update)) break;
    const decided: ShareTask = { ...step, members: [{ ...member, features: 'reuse' }] };
    if (!reusesAll(decided, framesPerBlock)) break;
    update = stepUpdate;
    run.push(decided);
  }
  return run.length >= 2 && update !== null ? { steps: run, update } : null;
}

/** An indicator's five figures as (present, value) pairs (`AheadTask.progress`). */
function indicatorFigures(indicator: MemberIndicator | undefined): number[] {
  const pair = (value: number | null | undefined) => (value === undefined ? [0, 0] : value === null ? [1, 0] : [2, value]);
  return indicator ? [...pair(indicator.indicator), ...pair(indicator.firstInput), ...pair(indicator.firstResidual), ...pair(indicator.residual), ...pair(indicator.nextInput)] : new Array<number>(10).fill(0);
}

/**
 * A block's steps back to back (`AheadTask`): each runs as its tick would, then commits its
 * staged latents (and, with feature caching, flips its feature slot) itself, as the actor thread
 * would after the tick, and reports in `progress` before the next starts; with `decode`, the
 * block's frames follow the last step, then with `cache` its cache step (its K/V kept aside).
 * A crash leaves the steps reported so far committed; the
 * one under way may or may not have committed, so a retry starts the block over from its noise.
 */
async function ahead(task: AheadTask, sessions: PackageSessions): Promise<LaneTiming> {
  const start = performance.now();
  const steps = task.steps.length;
  const control = new Int32Array(task.progress, 0, 4);
  const figures = new Float64Array(task.progress, 16, AHEAD_STEP_FLOATS * steps + AHEAD_TAIL_FLOATS);
  // The block's own policy: fed the same indicators in the same order as the actor thread's, it decides the same.
  const policy = task.policy ? createFeatureCachePolicy(task.policy.settings, task.policy.steps) : null;
  let runMs = 0;
  for (let s = 0; s < steps; s++) {
    if (Atomics.load(control, 1) !== 0) return { runMs, workerMs: performance.now() - start };
    const run = reuseRunAt(task.steps, s, policy);
    if (run !== null) {
      // Reused steps need no report from each other: one call, then each reported as its own.
      const runStart = performance.now();
      for (let j = s; j < s + run.steps.length; j++) if (j > 0) taskStarted(data.faults, 'share');
      const d = memoryOf(run.steps[0] as ShareTask);
      const stepsMs = await runReuseSteps(run.steps, await lane.reuseRun(run.steps.length, run.update), d, run.update);
      for (const _ of run.steps) crashIfDue(data.faults, 'share', 'after-step');
      const k = run.steps.length;
      const each = (performance.now() - runStart) / k;
      for (let i = 0; i < k; i++) figures.set([stepsMs / k, each, performance.timeOrigin + runStart + each * (i + 1), 0, 2, ...indicatorFigures(undefined)], AHEAD_STEP_FLOATS * (s + i));
      runMs += stepsMs;
      s += k - 1;
      Atomics.store(control, 0, s + 1);
      Atomics.notify(control, 0);
      continue;
    }
    const step = task.steps[s] as TickTask | ShareTask;
    const d = memoryOf(step);
    let timing: LaneTiming;
    let feature: { readonly reused: boolean; readonly featureMs: number; readonly indicator: MemberIndicator | undefined } | null = null;
    if (step.kind === 'tick') {
      if (s > 0) taskStarted(data.faults, 'tick');
      timing = await tick(step, sessions);
    } else {
      if (s > 0) taskStarted(data.faults, 'share');
      const member = step.members[0] as TickMemberTask;
      const use = policy?.use(member.block, member.stage) ?? 'compute';
      const decided: ShareTask = { ...step, members: [{ ...member, features: use, measure: policy?.measures(member.block) ?? true }] };
      const result = await share(decided);
      const [indicator] = indicatorsOf([result]);
      policy?.observe(indicator ? [indicator] : []);
      const used = usedIn(decided.members[0] as TickMemberTask, result);
      if (decided.featureStore) commitFeatureSteps(decided.featureStore, m, [{ latentSlot: member.latentSlot, features: used }]);
      timing = result;
      feature = { reused: used === 'reuse', featureMs: result.featureMs ?? 0, indicator };
    }
    for (const member of step.members) slotView(d.latents, member.latentSlot).set(slotView(d.latentSteps, member.latentSlot));
    runMs += timing.runMs;
    figures.set([timing.runMs, timing.workerMs, performance.timeOrigin + performance.now(), feature?.featureMs ?? 0, feature?.reused ? 1 : 0, ...indicatorFigures(feature?.indicator)], AHEAD_STEP_FLOATS * s);
    Atomics.store(control, 0, s + 1);
    Atomics.notify(control, 0);
  }
  if (task.decode && Atomics.load(control, 1) !== AHEAD_CANCEL) {
    // The block's latents are final: decode now rather than wait for the actor thread to ask;
    // before the cache step, so that its frames are out before the next block can be admitted
    // (a live switch asked on seeing them lands where it did with separate tasks).
    taskStarted(data.faults, 'decode');
    const decoded = await decode(task.decode.task, sessions);
    new Uint8Array(task.decode.rgb).set(decoded.rgb);
    figures.set([decoded.runMs, decoded.workerMs], AHEAD_STEP_FLOATS * steps);
    Atomics.store(control, 2, 1);
    Atomics.notify(control, 2);
  }
  if (task.cache && Atomics.load(control, 1) !== AHEAD_CANCEL) {
    // The block's clean K/V, computed now through the graph its cache tick would run; the actor
    // thread writes them into the slots it reserves.
    const cache = task.cache;
    taskStarted(data.faults, cache.task.kind);
    const cacheStart = performance.now();
    let cacheRunMs: number;
    if (cache.task.kind === 'share') {
      cacheRunMs = (await share({ ...cache.task, presentTo: { key: cache.key, value: cache.value } })).runMs;
    } else {
      const { outputs, runMs } = await timedRun(sessions.denoiser, tickFeeds(cache.task, memoryOf(cache.task), sessions.denoiser));
      new Float32Array(cache.key).set(output(outputs, 'present_key'));
      new Float32Array(cache.value).set(output(outputs, 'present_value'));
      crashIfDue(data.faults, 'tick', 'after-step');
      cacheRunMs = runMs;
    }
    figures.set([cacheRunMs, performance.now() - cacheStart, performance.timeOrigin + performance.now()], AHEAD_STEP_FLOATS * steps + 2);
    Atomics.store(control, 3, 1);
    Atomics.notify(control, 3);
  }
  return { runMs, workerMs: performance.now() - start };
}

/**
 * Several sessions' joint ticks of one shape in one call along the batch axis: each item reads
 * its own memory set (latents, past, prompt) and keeps its own outputs. Items of equal shapes
 * need no padding, and onnxruntime then computes each item exactly as alone (tested on both
 * bundled models), so batching changes no frame. `session.run`'s time is shared out equally.
 */
async function batch(task: BatchTask, { denoiser }: PackageSessions): Promise<BatchResult> {
  const start = performance.now();
  for (let i = 1; i < task.ticks.length; i++) taskStarted(data.faults, 'tick');
  const items = task.ticks.map((tick) => {
    const d = memoryOf(tick);
    return { tick, d, feeds: tickFeeds(tick, d, denoiser) };
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(items[0]?.feeds ?? {})) {
    const axis = batchAxisOf(name);
    const stacked = stackBatch(items.map((item) => item.feeds[name] as ort.Tensor as DenseTensor), axis);
    feeds[name] = new ort.Tensor('float32', stacked.data, stacked.dims);
  }
  const { outputs, runMs } = await timedRun(denoiser, feeds);
  const dense = (name: string): DenseTensor => {
    const tensor = outputs[name];
    if (!tensor) throw new Error(`lane ${data.laneId}: the model returned no output "${name}"`);
    return { data: tensor.data as Float32Array, dims: tensor.dims };
  };
  items.forEach((item, b) => applyTick(item.tick, item.d, itemOf(dense('flow'), 0, b).data, () => itemOf(dense('present_key'), 1, b).data, () => itemOf(dense('present_value'), 1, b).data));
  const workerMs = performance.now() - start;
  const share = { runMs: runMs / items.length, workerMs: workerMs / items.length };
  return { runMs, workerMs, items: items.map(() => share) };
}

async function recache(task: RecacheTask, { denoiser }: PackageSessions): Promise<LaneTiming> {
  const start = performance.now();
  const d = memoryOf(task);
  const frames = task.slots.length;
  if (frames === 0) return { runMs: 0, workerMs: performance.now() - start };
  const blocks = new Set(task.blocks).size;
  if (blocks > 1 && !denoiser.inputNames.includes('attention_mask')) {
    // Without a mask the cached blocks would see later ones: not the cache they were made as.
    throw new Error(`re-cache over ${blocks} blocks needs a model with an "attention_mask" input`);
  }
  const n = frames * m.tokensPerFrame;
  const empty = new Float32Array(0);
  const pastDims = [m.layers, 1, m.heads, 0, m.headDim];
  const feeds: Record<string, ort.Tensor> = {
    latents: new ort.Tensor('float32', gatherCleanLatents(d.cleanLatents, task.slots), [1, frames, m.latent.channels, m.latent.height, m.latent.width]),
    timesteps: new ort.Tensor('float32', new Float32Array(frames).fill(task.timestep), [1, frames]),
    frame_positions: new ort.Tensor('float32', Float32Array.from(task.positions), [1, frames]),
    context: new ort.Tensor('float32', slotView(d.contexts, task.contextSlot).slice(), [1, m.text.maxTokens, m.text.contextDim]),
    past_key: new ort.Tensor('float32', empty, pastDims),
    past_value: new ort.Tensor('float32', empty, pastDims),
  };
  if (denoiser.inputNames.includes('attention_mask')) {
    // Block-causal among the cached frames: each block sees itself and older ones, as when cached.
    const cached = task.blocks.map((block) => ({ block }));
    const mask = buildAttentionMask({ pastTokens: 0, queryFrames: cached, keyFrames: cached, tokensPerFrame: m.tokensPerFrame, mode: 'causal' });
    feeds.attention_mask = new ort.Tensor('float32', mask, [1, 1, n, n]);
  }
  const { outputs, runMs } = await timedRun(denoiser, feeds);
  scatterPresent(d.kv, task.slots, output(outputs, 'present_key'), output(outputs, 'present_value'));
  // Rewritten in place, but from clean latents nothing here changes: a re-run writes the same.
  crashIfDue(data.faults, 'recache', 'after-step');
  return { runMs, workerMs: performance.now() - start };
}

async function decode(task: DecodeTask, { vaeDecoder }: PackageSessions): Promise<DecodeResult> {
  const start = performance.now();
  const d = memoryOf(task);
  const latent = slotView(d.latents, task.latentSlot);
  const { outputs, runMs } = await timedRun(vaeDecoder, {
    latents: new ort.Tensor('float32', latent.slice(), latentDims),
  });
  const planar = output(outputs, 'frames');
  // Never read a decoder's output past its end (black frames): the loader checks the size, but
  // a package loaded without validation reaches here unchecked.
  if (planar.length !== framesPerBlock * 3 * m.video.height * m.video.width) {
    throw new Error(`${data.files.vaeDecoder}: output "frames" has ${planar.length} values for one block, but model.json video is ${m.video.height}×${m.video.width} with framesPerBlock ${framesPerBlock} (${framesPerBlock * 3 * m.video.height * m.video.width} values)`);
  }
  const rgb = toRgbBytes(planar, framesPerBlock, m.video.height, m.video.width);
  crashIfDue(data.faults, 'decode', 'after-step');
  // Copied by structured clone (Piscina transfers only a top-level return value); a block's
  // frames are a few kilobytes.
  return { rgb, runMs, workerMs: performance.now() - start };
}

/** [F,3,H,W] floats in [-1, 1] → F frames of interleaved RGB bytes. */
function toRgbBytes(planar: Float32Array, frames: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const rgb = new Uint8Array(frames * plane * 3);
  for (let f = 0; f < frames; f++) {
    const src = f * 3 * plane;
    const dst = f * plane * 3;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.round(((planar[src + c * plane + p] as number) + 1) * 127.5);
        rgb[dst + p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return rgb;
}

/** Piscina entry point. */
export default async function runLaneTask(task: LaneTask | BatchTask): Promise<LaneTiming | DecodeResult | BatchResult> {
  const loaded = await lane.package();
  if (task.kind !== 'ping') taskStarted(data.faults, task.kind === 'batch' ? 'tick' : task.kind === 'ahead' ? (task.steps[0]?.kind ?? 'tick') : task.kind);
  switch (task.kind) {
    case 'ping': {
      if (!task.warm) return { runMs: 0, workerMs: 0 };
      // Lanes that may take part in a `lanes` tick load and warm the layered graphs too.
      const ms = await warmUp(m, loaded, task.layered ? await lane.layered() : null, task.inFlightBlocks);
      return { runMs: ms, workerMs: ms };
    }
    case 'encode':
      return encode(task, loaded);
    case 'tick':
      return tick(task, loaded);
    case 'ahead':
      return ahead(task, loaded);
    case 'batch':
      return batch(task, loaded);
    case 'share':
      return share(task);
    case 'stale':
      return runStaleShare(task, loaded.denoiser, memoryOf(task));
    case 'recache':
      return recache(task, loaded);
    case 'decode':
      return decode(task, loaded);
  }
}
