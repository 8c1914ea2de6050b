/**
 * A lane's share of a tick in `lanes` execution (worker side): the layered model over this
 * lane's frames, exchanging every layer's K/V with the tick's other lanes through the exchange
 * slab, then the sampler step for these frames. Same arithmetic as a joint tick, split by
 * frames, with the keys in the joint call's order ([cache past ; the tick tokens]); under causal
 * attention the keys stop at the end of the lane's last block (those after it are hidden from
 * every query here). The graphs and matrix shapes differ, so results agree with `joint` to float
 * rounding.
 *
 * With block-wise feature caching (`task.featureStore`), a member may reuse: its frames are
 * embedded and go through the head, but no layer runs on them; the head gets their embedding
 * plus the residual of their block's last computed step, and the tick's other members attend to
 * the K/V of that step. Computing members keep their layer inputs, residual and K/V in the store
 * and report the indicator's sums; a member that no longer measures (`measure: false`) keeps its
 * residual only, and K/V are kept only when the store says so (`keepKeyValues`: a cascade, where
 * a reusing member's K/V are read by the others). Without a store the computation is the plain
 * layered one.
 * The store's `track` asks for more: `first-input` (teacache) also compares and keeps a reusing
 * member's layer-0 input (its embedding), `first-residual` (fbcache) measures layer 0's output
 * residual against the last computed step's; both measure the whole residual's change.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { MemberFeatureSums, ShareResult, ShareTask, TickMemberTask } from '../../protocol/lane-messages.js';
import { arriveAndWait, abortExchange, exchangeToSlots, fullKeyValues, publishLayer, publishRows } from './exchange.js';
import { featureSlot, type FeatureStore } from './feature-store.js';
import { compareAndStore, copyHeadRows, firstResidualChange, storeResidual } from './feature-rows.js';
import { buildAttentionMask, tickMaskFrames } from '../model/attention-mask.js';
import { groupKeyFrames, keyGroups, keyWorkSaved, MIN_KEY_WORK_SAVED } from './key-groups.js';
import { keyValueBuffers, zeroBuffer } from './sized-buffers.js';
import { storeCleanLatents } from './clean-latents.js';
import { crashIfDue } from './faults.js';
import { frameInputs, stepFrames } from './frame-range.js';
import { nextInputSums, withNextInputs } from './next-inputs.js';
import type { LaneWorkerData } from './worker-data.js';

export interface LayeredSessions {
  readonly embed: ort.InferenceSession;
  readonly layers: readonly ort.InferenceSession[];
  readonly keyValues: readonly ort.InferenceSession[];
  readonly head: ort.InferenceSession;
}

function output(outputs: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`the layered model returned no output "${name}"`);
  return tensor.data as Float32Array;
}

/** A member's frames on this lane: global frames [from, to), and where they sit in the compact (computing) rows. */
interface Segment {
  readonly member: TickMemberTask;
  readonly from: number;
  readonly to: number;
  /** Index of the segment's first frame among this lane's frames. */
  readonly local: number;
  /** Index of its first frame among this lane's computing frames; −1 when the member reuses. */
  compact: number;
  /** A `decide` member that chose to reuse: its first layer's output rows (the head adds the other layers' residual). */
  firstOut?: Float32Array;
  /** Index of its first frame inside its block. */
  readonly blockFrame: number;
}

export async function runShare(task: ShareTask, sessions: LayeredSessions, context: Float32Array, data: LaneWorkerData): Promise<ShareResult> {
  const start = performance.now();
  const m = data.manifest;
  const x = data.exchange;
  const F = m.framesPerBlock;
  const frameSize = m.latent.channels * m.latent.height * m.latent.width;
  const tpf = m.tokensPerFrame;
  const D = m.width;
  const { from, to } = task.frames;
  const frames = to - from;
  // The tick tokens this lane attends to (all of them, or under causal attention up to the end
  // of its last block): keys past them are hidden from every query of this lane.
  const keyTokens = task.keyFrames * tpf;
  const store = task.featureStore ?? null;
  let runMs = 0;
  let featureMs = 0;
  const layerWaitsMs: number[] = [];
  const run = async (session: ort.InferenceSession, feeds: Record<string, ort.Tensor>) => {
    const t = performance.now();
    const outputs = await session.run(feeds);
    runMs += performance.now() - t;
    return outputs;
  };
  try {
    // This lane's frames, member by member; members that reuse skip the layer stack.
    const segments: Segment[] = [];
    let computing = 0;
    for (let f = from; f < to; ) {
      const index = Math.floor(f / F);
      const member = task.members[index];
      if (!member) throw new Error(`frame ${f} is outside the tick's ${task.members.length} blocks`);
      const end = Math.min(to, (index + 1) * F);
      const reuse = member.features === 'reuse';
      if ((reuse || member.features === 'decide') && (member.cache || member.stage === 0)) throw new Error(`block ${member.block} cannot reuse features at stage ${member.stageName} (the cache step and the first step always compute)`);
      if ((reuse || member.features === 'decide') && !store) throw new Error(`block ${member.block} asks to reuse features, but the tick carries no feature store`);
      if (member.features === 'decide' && (store?.decideBelow === undefined || store.track !== 'first-residual')) throw new Error(`block ${member.block} decides after its first layer, but the feature store has no threshold for it (decideBelow, with first-residual tracking)`);
      // Its first layer's residual is compared over the whole block: the executor gives it one lane.
      if (member.features === 'decide' && (f % F !== 0 || end - f !== F)) throw new Error(`block ${member.block} decides after its first layer, but this lane holds only frames ${f % F}–${((end - 1) % F) + 1} of it`);
      segments.push({ member, from: f, to: end, local: f - from, compact: reuse ? -1 : computing, blockFrame: f % F });
      if (!reuse) computing += end - f;
      f = end;
    }
    let allCompute = computing === frames;
    // Read the committed store, write the staged one: the runtime commits it after the tick.
    const cachedOf = (member: TickMemberTask) => featureSlot(store as FeatureStore, m, member.latentSlot);
    const stagedOf = (member: TickMemberTask) => featureSlot(store as FeatureStore, m, member.latentSlot, 'steps');
    // Computing denoising members keep their features (the cache step's are never reused).
    let keeps = store ? segments.filter((s) => s.compact >= 0 && !s.member.cache && s.member.commit !== false) : [];
    const reusing = segments.filter((s) => s.compact < 0 && s.member.commit !== false);
    // Members that measure (all but bwcache's once a block's schedule is fixed) compare and keep
    // their layer inputs; the others keep only the residual (and K/V when the store keeps them).
    let measuring = keeps.filter((s) => s.member.measure !== false);
    const keepKeyValues = store?.keepKeyValues !== false;
    if (!keepKeyValues && segments.some((s) => s.compact < 0) && task.members.some((member) => member.features !== 'reuse')) {
      // Its K/V were never stored: the computing members would attend to stale rows.
      const reused = segments.find((s) => s.compact < 0) as Segment;
      throw new Error(`tick ${task.tick}: block ${reused.member.block} reuses while other members compute, but the feature store keeps no K/V (keepKeyValues false: parallelism 0 has one block per tick)`);
    }

    const { latents, timesteps, positions } = frameInputs(task.members, from, to, data);
    const perFrame = (a: Float32Array, n = frames) => new ort.Tensor('float32', a, [1, n]);
    const latentTensor = new ort.Tensor('float32', latents, [1, frames, m.latent.channels, m.latent.height, m.latent.width]);
    const e = await run(sessions.embed, { latents: latentTensor, timesteps: perFrame(timesteps) });
    const embedded = output(e, 'hidden');
    const timeEmbeddingAll = output(e, 'time_embedding');
    // The layer stack runs on the computing frames only (all of them unless a member reuses).
    const rowFloats = tpf * D;
    /** The computing frames' rows of a per-frame array (the array itself when every frame computes). */
    const compact = (all: Float32Array, perFrameFloats: number): Float32Array => {
      if (allCompute) return all;
      const out = new Float32Array(computing * perFrameFloats);
      for (const s of segments) if (s.compact >= 0) out.set(all.subarray(s.local * perFrameFloats, (s.local + s.to - s.from) * perFrameFloats), s.compact * perFrameFloats);
      return out;
    };
    let hiddenIn = compact(embedded, rowFloats);
    let hidden = hiddenIn;
    let timeEmbedding = new ort.Tensor('float32', compact(timeEmbeddingAll, D), [1, computing, D]);
    let queryPositions = perFrame(compact(positions, 1), computing);
    let hiddenDims = [1, computing * tpf, D];
    const pastTokens = task.pastSlots.length * tpf;
    // One key/value buffer pair for every layer of this tick (the runs are sequential).
    const keyValues = keyValueBuffers(m.heads * (pastTokens + keyTokens) * m.headDim);
    // Rows: this lane's computing frames; columns: the cache past, then the tick frames it attends to, in tick order.
    const tickFrames = tickMaskFrames(task.members, F);
    // Queries that see fewer keys than the lane gathers (an older block under causal attention,
    // any block under the trained window) may run in groups, each with only its keys: a masked
    // key costs its dot products, an absent one nothing, but each group costs a call and a copy.
    // The computing rows' attention: key groups or one mask (again if a member leaves the rows).
    const attentionOfRows = () => {
      const groups = keyGroups(
        segments.filter((s) => s.compact >= 0).map((s) => ({ member: Math.floor(s.from / F), rows: { from: s.compact, to: s.compact + s.to - s.from } })),
        { attention: task.attention, framesPerBlock: F, pastFrames: task.pastSlots.length, keyFrames: task.keyFrames, positions: task.members.map((member) => member.positions), ...(task.window ? { window: task.window } : {}) },
      );
      const grouped = data.groupKeys !== false && keyWorkSaved(groups, task.pastSlots.length + task.keyFrames) >= MIN_KEY_WORK_SAVED;
      const queryFrames = allCompute ? tickFrames.slice(from, to) : segments.flatMap((s) => (s.compact < 0 ? [] : tickFrames.slice(s.from, s.to)));
      const mask = grouped ? null : buildAttentionMask({ pastTokens, queryFrames, keyFrames: tickFrames.slice(0, task.keyFrames), tokensPerFrame: tpf, mode: task.attention, ...(task.window ? { window: task.window } : {}) });
      return { groups, grouped, maskTensor: mask ? new ort.Tensor('float32', mask, [1, 1, computing * tpf, pastTokens + keyTokens]) : null };
    };
    let { groups, grouped, maskTensor } = attentionOfRows();
    const contextTensor = new ort.Tensor('float32', context, [1, m.text.maxTokens, m.text.contextDim]);
    const blockTokens = F * tpf;
    const track = store?.track;
    type Sums = { block: number; stage: number; change: number[]; base: number[]; firstResidual?: [number, number]; residual?: [number, number]; reused?: boolean; decided?: 'compute' | 'reuse' };
    const sums: Sums[] = [];
    const sumsOf = new Map<Segment, Sums>();
    for (const seg of measuring) {
      const entry: Sums = { block: seg.member.block, stage: seg.member.stage, change: [], base: [] };
      sums.push(entry);
      sumsOf.set(seg, entry);
    }
    // fbcache: layer 0's input at the last computed step, kept before it is overwritten.
    const firstInputs = new Map<Segment, Float32Array>();
    if (track === 'first-input' && reusing.length > 0) {
      // teacache: a reusing member's layer-0 input (its embedding) against the previous step's, then kept.
      const t = performance.now();
      for (const s of reusing) {
        const n = (s.to - s.from) * rowFloats;
        const rows = [s.blockFrame * rowFloats, s.blockFrame * rowFloats + n] as const;
        const { change, base } = compareAndStore(embedded.subarray(s.local * rowFloats, s.local * rowFloats + n), cachedOf(s.member).input(0).subarray(...rows), stagedOf(s.member).input(0).subarray(...rows), true);
        sums.push({ block: s.member.block, stage: s.member.stage, change: [change], base: [base], reused: true });
      }
      featureMs += performance.now() - t;
    }
    for (let l = 0; l < m.layers; l++) {
      if (measuring.length > 0) {
        // The indicator's sums against the block's last computed step, then this step's inputs kept.
        const t = performance.now();
        for (const s of measuring) {
          const n = (s.to - s.from) * rowFloats;
          const into = sumsOf.get(s) as Sums;
          const kept = cachedOf(s.member).input(l).subarray(s.blockFrame * rowFloats, s.blockFrame * rowFloats + n);
          if (track === 'first-residual' && l === 0) firstInputs.set(s, kept.slice());
          if (track === 'first-residual' && l === 1) {
            const rows = [s.compact * rowFloats, s.compact * rowFloats + n] as const;
            into.firstResidual = firstResidualChange(hiddenIn.subarray(...rows), hidden.subarray(...rows), firstInputs.get(s) as Float32Array, kept, n);
          }
          const staged = stagedOf(s.member).input(l).subarray(s.blockFrame * rowFloats, s.blockFrame * rowFloats + n);
          const { change, base } = compareAndStore(hidden.subarray(s.compact * rowFloats, s.compact * rowFloats + n), kept, staged, s.member.stage > 0);
          into.change.push(change);
          into.base.push(base);
        }
        featureMs += performance.now() - t;
      }
      if (l === 1 && segments.some((s) => s.member.features === 'decide')) {
        // First-block caching: each deciding member has run layer 0; its output residual's change
        // against the last computed step (measured just above) says whether the other layers run.
        const before = new Map(segments.map((s) => [s, s.compact] as const));
        const reused: Segment[] = [];
        for (const s of segments) {
          const into = sumsOf.get(s);
          // A context-only member measures nothing and keeps nothing: it simply computes.
          if (s.member.features !== 'decide' || !into) continue;
          const [change, base] = into.firstResidual ?? [0, 0];
          const reuse = base > 0 && change / base < (store?.decideBelow as number);
          into.decided = reuse ? 'reuse' : 'compute';
          if (!reuse) continue;
          into.reused = true;
          s.firstOut = hidden.slice(s.compact * rowFloats, (s.compact + s.to - s.from) * rowFloats);
          s.compact = -1;
          reused.push(s);
        }
        if (reused.length > 0) {
          // The rows that still compute, in frame order, and everything laid out over them.
          computing = 0;
          for (const s of segments) {
            if (s.compact < 0) continue;
            s.compact = computing;
            computing += s.to - s.from;
          }
          allCompute = computing === frames;
          const next = new Float32Array(computing * rowFloats);
          for (const s of segments) if (s.compact >= 0) next.set(hidden.subarray((before.get(s) as number) * rowFloats, ((before.get(s) as number) + s.to - s.from) * rowFloats), s.compact * rowFloats);
          hidden = next;
          hiddenIn = compact(embedded, rowFloats);
          timeEmbedding = new ort.Tensor('float32', compact(timeEmbeddingAll, D), [1, computing, D]);
          queryPositions = perFrame(compact(positions, 1), computing);
          hiddenDims = [1, computing * tpf, D];
          ({ groups, grouped, maskTensor } = attentionOfRows());
          keeps = keeps.filter((s) => !reused.includes(s));
          measuring = measuring.filter((s) => !reused.includes(s));
        }
      }
      if (computing > 0) {
        const kv = await run(sessions.keyValues[l] as ort.InferenceSession, {
          hidden: new ort.Tensor('float32', hidden, hiddenDims),
          time_embedding: timeEmbedding,
          frame_positions: queryPositions,
        });
        const key = output(kv, 'key');
        const value = output(kv, 'value');
        if (allCompute) publishLayer(x, l, from * tpf, key, value);
        else {
          for (const s of segments) {
            if (s.compact < 0) continue;
            publishRows(x, l, s.from * tpf, key, value, computing * tpf, s.compact * tpf, (s.to - s.from) * tpf);
          }
        }
        if (keeps.length > 0 && keepKeyValues) {
          const t = performance.now();
          for (const s of keeps) {
            const cached = stagedOf(s.member);
            copyHeadRows(key, computing * tpf, s.compact * tpf, cached.key(l), blockTokens, s.blockFrame * tpf, (s.to - s.from) * tpf, m.heads, m.headDim);
            copyHeadRows(value, computing * tpf, s.compact * tpf, cached.value(l), blockTokens, s.blockFrame * tpf, (s.to - s.from) * tpf, m.heads, m.headDim);
          }
          featureMs += performance.now() - t;
        }
      }
      // A reusing member's K/V: those of its last computed step. Context-only members too (they
      // keep nothing, but others attend to them): unpublished, their rows would be whatever an
      // earlier call left in the exchange, which a resumed generation cannot reproduce.
      // Without kept K/V no member computes in such a tick (refused above): nobody reads them.
      for (const s of segments) {
        if (s.compact >= 0 || !keepKeyValues) continue;
        const cached = cachedOf(s.member);
        publishRows(x, l, s.from * tpf, cached.key(l), cached.value(l), blockTokens, s.blockFrame * tpf, (s.to - s.from) * tpf);
      }
      layerWaitsMs.push(arriveAndWait(x, l, task.lane, task.waitFor));
      if (computing === 0) continue;
      if (!grouped) {
        // The cache past, then the tick tokens this lane attends to, own included.
        const layerPast = fullKeyValues(x, l, data.kv, task.pastSlots, keyTokens, keyValues);
        const pastDims = [1, m.heads, layerPast.tokens, m.headDim];
        const out = await run(sessions.layers[l] as ort.InferenceSession, {
          hidden: new ort.Tensor('float32', hidden, hiddenDims),
          time_embedding: timeEmbedding,
          frame_positions: queryPositions,
          context: contextTensor,
          key: new ort.Tensor('float32', layerPast.key, pastDims),
          value: new ort.Tensor('float32', layerPast.value, pastDims),
          attention_mask: maskTensor as ort.Tensor,
        });
        hidden = output(out, 'hidden_out');
        continue;
      }
      const next = new Float32Array(computing * rowFloats);
      for (const group of groups) {
        const { from: r0, to: r1 } = group.rows;
        const slots = group.past.map((i) => task.pastSlots[i] as number);
        const keyCount = groupKeyFrames(group) * tpf;
        const layerPast = fullKeyValues(x, l, data.kv, slots, group.tick.map((r) => ({ from: r.from * tpf, to: r.to * tpf })), keyValueBuffers(m.heads * keyCount * m.headDim));
        const pastDims = [1, m.heads, keyCount, m.headDim];
        const out = await run(sessions.layers[l] as ort.InferenceSession, {
          hidden: new ort.Tensor('float32', hidden.subarray(r0 * rowFloats, r1 * rowFloats), [1, (r1 - r0) * tpf, D]),
          time_embedding: new ort.Tensor('float32', (timeEmbedding.data as Float32Array).subarray(r0 * D, r1 * D), [1, r1 - r0, D]),
          frame_positions: new ort.Tensor('float32', (queryPositions.data as Float32Array).subarray(r0, r1), [1, r1 - r0]),
          context: contextTensor,
          key: new ort.Tensor('float32', layerPast.key, pastDims),
          value: new ort.Tensor('float32', layerPast.value, pastDims),
          // Every key given is visible to every query of the group.
          attention_mask: new ort.Tensor('float32', zeroBuffer((r1 - r0) * tpf * keyCount), [1, 1, (r1 - r0) * tpf, keyCount]),
        });
        next.set(output(out, 'hidden_out'), r0 * rowFloats);
      }
      hidden = next;
    }
    // The head's input: the stack's output for computing frames; for reusing ones, their
    // embedded input plus the residual of their block's last computed step.
    let headInput = hidden;
    if (store) {
      const t = performance.now();
      for (const s of keeps) {
        const n = (s.to - s.from) * rowFloats;
        const a = s.compact * rowFloats;
        const residual = cachedOf(s.member).residual.subarray(s.blockFrame * rowFloats, s.blockFrame * rowFloats + n);
        const staged = stagedOf(s.member).residual.subarray(s.blockFrame * rowFloats, s.blockFrame * rowFloats + n);
        // The stack's residual change against the last computed step is measured for
        // calibration and for fbcache's layer-0 residual when the stack has one layer.
        const measure = s.member.measure !== false;
        const { change, base } = storeResidual(hidden, hiddenIn, a, n, residual, staged, measure && track !== undefined);
        if (!measure) continue;
        const into = sumsOf.get(s) as Sums;
        if (track !== undefined) {
          into.residual = [change, base];
          if (track === 'first-residual' && m.layers < 2) into.firstResidual = [change, base];
        }
      }
      if (!allCompute) {
        headInput = new Float32Array(frames * rowFloats);
        for (const s of segments) {
          const n = (s.to - s.from) * rowFloats;
          const dst = s.local * rowFloats;
          if (s.compact >= 0) headInput.set(hidden.subarray(s.compact * rowFloats, s.compact * rowFloats + n), dst);
          else if (s.firstOut) {
            // Decided to reuse after layer 0: its output now plus the other layers' residual of
            // the last computed step (the whole stack's minus layer 0's there).
            const at = s.blockFrame * rowFloats;
            const cached = cachedOf(s.member);
            const residual = cached.residual.subarray(at, at + n);
            const in0 = cached.input(0).subarray(at, at + n);
            const in1 = cached.input(1).subarray(at, at + n);
            for (let i = 0; i < n; i++) headInput[dst + i] = (s.firstOut[i] as number) + ((residual[i] as number) - ((in1[i] as number) - (in0[i] as number)));
          } else {
            const residual = cachedOf(s.member).residual.subarray(s.blockFrame * rowFloats, s.blockFrame * rowFloats + n);
            for (let i = 0; i < n; i++) headInput[dst + i] = (embedded[dst + i] as number) + (residual[i] as number);
          }
        }
      }
      featureMs += performance.now() - t;
    }
    const flow = output(
      await run(sessions.head, {
        hidden: new ort.Tensor('float32', headInput, [1, frames * tpf, D]),
        time_embedding: new ort.Tensor('float32', timeEmbeddingAll, [1, frames, D]),
        latents: latentTensor,
        timesteps: perFrame(timesteps),
      }),
      'flow',
    );

    // Sampler step for this lane's frames of every denoising block.
    for (const s of segments) {
      if (!s.member.cache && s.member.commit !== false) stepFrames(s.member, s.blockFrame, s.to - s.from, flow.subarray(s.local * frameSize, (s.local + s.to - s.from) * frameSize), data);
      crashIfDue(data.faults, 'share', 'after-step');
    }
    // Every lane has published every layer (each passed the last barrier): the lane that holds
    // the tick's first frame stores the caching block's clean K/V.
    if (task.cacheSlots && from === 0) {
      exchangeToSlots(x, data.kv.keys, data.kv.values, tpf, task.cacheSlots, 0);
      storeCleanLatents(data.latents, data.cleanLatents, (task.members[0] as TickMemberTask).latentSlot, task.cacheSlots);
    }
    const exchangeWaitMs = layerWaitsMs.reduce((total, ms) => total + ms, 0);
    let featureSums: MemberFeatureSums[] = sums.filter((s) => s.stage > 0);
    if (track === 'first-input') {
      const t = performance.now();
      const rows = segments.map((s) => ({ member: s.member, blockFrame: s.blockFrame, count: s.to - s.from, embedded: embedded.subarray(s.local * rowFloats, (s.local + s.to - s.from) * rowFloats) }));
      featureSums = withNextInputs(featureSums, await nextInputSums(sessions.embed, rows, data));
      featureMs += performance.now() - t;
    }
    return { runMs, workerMs: performance.now() - start, exchangeWaitMs, layerWaitsMs, ...(store ? { featureSums, featureMs } : {}) };
  } catch (error) {
    abortExchange(x);
    throw error;
  }
}
