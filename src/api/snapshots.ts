/**
 * A generation's snapshots and resumes (docs/snapshots.md), outside the actors: what the
 * generation must remember for them (decodes, cache steps, prompt texts), when a snapshot falls
 * due, how the small state is read off the barrier and the supervisor, and how a snapshot turns
 * back into a prompt timeline and restored blocks.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PromptSegment, ReplayedBlock, RestoredBlock, SupervisorResume } from '../actors/supervisor.js';
import type { BetweenTicks } from '../actors/tick-barrier.js';
import type { GenerationSnapshot, SnapshotOptions } from '../core/api-types.js';
import { asBlockIndex } from '../core/domain.js';
import { SnapshotMismatchError, SnapshotUnsupportedError } from '../core/errors.js';
import type { FeatureCachePolicy } from '../core/feature-cache.js';
import type { ModelManifest } from '../core/manifest-types.js';
import type { ResolvedGeneration } from '../core/options.js';
import { captureSnapshot } from '../engine/snapshot/capture.js';
import { requiredSnapshots, type SnapshotFingerprint, type SnapshotFrame, type SnapshotSegment, type SnapshotState } from '../engine/snapshot/snapshot-format.js';
import { unreadRanges, type FeatureStore } from '../engine/lanes/feature-store.js';
import type { SharedMemory } from '../engine/memory/memory-plan.js';
import { slotView } from '../engine/memory/slot-slab.js';

/**
 * The fingerprint of a generation: what a snapshot of it records and a resume must match.
 *
 * @example
 * ```ts
 * const fingerprint = fingerprintOf(resolved, manifest, lanes.length);
 * ```
 */
export function fingerprintOf(resolved: ResolvedGeneration, m: Pick<ModelManifest, 'framesPerBlock'>, lanes: number): SnapshotFingerprint {
  const { request, settings, schedule } = resolved;
  return {
    seed: request.seed,
    blocks: request.blocks,
    steps: settings.steps,
    parallelism: settings.parallelism,
    lag: schedule.lag,
    attention: settings.attention,
    exec: settings.exec,
    recache: settings.recache,
    switchMode: settings.switchMode,
    cascadeWindow: settings.cascadeWindow,
    featureCache: JSON.stringify(settings.featureCache),
    framesPerBlock: m.framesPerBlock,
    lanes,
  };
}

/** The option each fingerprint field comes from, as an error names it. */
const FIELD_OPTIONS: Readonly<Record<Exclude<keyof SnapshotFingerprint, 'lanes'>, string>> = {
  seed: 'seed',
  blocks: 'blocks',
  steps: 'steps',
  parallelism: 'cascade.parallelism',
  lag: 'cascade.parallelism',
  attention: 'cascade.attention',
  exec: 'cascade.exec',
  recache: 'cascade.recache',
  switchMode: 'cascade.switchMode',
  cascadeWindow: 'cascade.cascadeWindow',
  featureCache: 'featureCache',
  framesPerBlock: 'model',
};

/**
 * Refuses a snapshot of another model or request. The lane count may differ (the frames then
 * agree to within float rounding rather than bit for bit).
 *
 * @throws {SnapshotMismatchError} naming the first field that differs.
 *
 * @example
 * ```ts
 * checkResumable(decodeSnapshot(bytes), manifest.name, fingerprintOf(resolved, manifest, lanes.length));
 * ```
 */
export function checkResumable(state: SnapshotState, model: string, fingerprint: SnapshotFingerprint): void {
  if (state.model !== model) throw new SnapshotMismatchError('model', state.model, model);
  for (const [field, option] of Object.entries(FIELD_OPTIONS) as [keyof typeof FIELD_OPTIONS, string][]) {
    if (state.fingerprint[field] !== fingerprint[field]) throw new SnapshotMismatchError(option, state.fingerprint[field], fingerprint[field]);
  }
}

/**
 * Refuses snapshots and resumes for an execution mode whose state they do not hold.
 *
 * @throws {SnapshotUnsupportedError} naming `cascade.exec` for `stale` and `wavefront`.
 *
 * @example
 * ```ts
 * checkSnapshotMode(resolved.settings.exec, 'resumeFrom');
 * ```
 */
export function checkSnapshotMode(exec: string, asked: 'snapshots' | 'resumeFrom'): void {
  if (exec === 'stale') throw new SnapshotUnsupportedError('cascade.exec', `"stale" execution keeps last tick's K/V of the blocks in flight outside the snapshot, so ${asked} is not supported with it`);
  // Snapshots are taken between ticks; the wavefront's ticks overlap, so there is no such moment.
  if (exec === 'wavefront') throw new SnapshotUnsupportedError('cascade.exec', `"wavefront" execution overlaps consecutive ticks, so there is no moment between two ticks to take a snapshot at: ${asked} is not supported with it`);
}

/** A generation's prompt timeline: the text of each context slot, and which slot applies from which block. */
export interface PromptPlan {
  /** Context slot → prompt text. A slot below 0 is never encoded: it only names the prompt the cache was made under. */
  readonly texts: ReadonlyMap<number, string>;
  readonly segments: readonly PromptSegment[];
  /** Scheduled switches applied from the request (for the trace). */
  readonly switches: readonly { readonly atBlock: number; readonly prompt: string }[];
}

/**
 * A fresh generation's prompts: slot 0 the request's prompt, slot i its i-th switch.
 *
 * @example
 * ```ts
 * const { texts, segments } = freshPrompts(resolved.request);
 * ```
 */
export function freshPrompts(request: ResolvedGeneration['request']): PromptPlan {
  const timeline = [{ atBlock: 0, prompt: request.prompt }, ...request.switches];
  return {
    texts: new Map(timeline.map((p, slot) => [slot, p.prompt])),
    segments: timeline.map((p, contextSlot) => ({ fromBlock: p.atBlock, contextSlot })),
    switches: request.switches,
  };
}

/** What a resumed generation starts from: its prompts, the supervisor's position, the cache's prompt. */
export interface ResumePlan {
  readonly prompts: PromptPlan;
  readonly resume: SupervisorResume & { readonly cachedUnder: number | null };
  /** The first block it produces. */
  readonly firstBlock: number;
}

/**
 * Turns a decoded snapshot into a resumed generation's start. The snapshot's timeline covers
 * the blocks up to its next one; the request's switches at or after that block apply after it
 * (so a switch re-sent for exactly the next block wins over the snapshot's own). Each prompt of
 * the snapshot keeps a slot of its own, as in the run it was taken of.
 *
 * @throws {SnapshotUnsupportedError} naming `switches` when the prompts need more context slots than the memory set has.
 *
 * @example
 * ```ts
 * const plan = resumePlan(state, resolved.request, latentSlots, memory.contexts.slots, settings.steps);
 * ```
 */
export function resumePlan(state: SnapshotState, request: ResolvedGeneration['request'], latentSlots: readonly number[], contextSlots: number, steps: number): ResumePlan {
  const kept = state.timeline.filter((s) => s.fromBlock <= state.nextBlock);
  const switches = request.switches.filter((s) => s.atBlock >= state.nextBlock);
  const used = [...new Set([...kept.map((s) => s.prompt), ...state.replay.map((b) => b.prompt), ...state.blocks.map((b) => b.prompt)])];
  const slotOfPrompt = new Map(used.map((prompt, slot) => [prompt, slot]));
  if (used.length + switches.length > contextSlots) {
    throw new SnapshotUnsupportedError('switches', `the snapshot's ${used.length} prompts and the request's ${switches.length} switches from block ${state.nextBlock} on need more than the ${contextSlots} prompt slots`);
  }
  const texts = new Map<number, string>(used.map((prompt, slot) => [slot, state.prompts[prompt] as string]));
  switches.forEach((s, i) => texts.set(used.length + i, s.prompt));
  // The cache's prompt is only compared, never read: one no segment uses gets a slot no prompt is encoded in.
  const cachedUnder = state.cachedUnder === null ? null : (slotOfPrompt.get(state.cachedUnder) ?? -1);
  if (cachedUnder === -1) texts.set(-1, state.prompts[state.cachedUnder as number] as string);
  const segments = [
    ...kept.map((s: SnapshotSegment) => ({ fromBlock: s.fromBlock, contextSlot: slotOfPrompt.get(s.prompt) as number })),
    ...switches.map((s, i) => ({ fromBlock: s.atBlock, contextSlot: used.length + i })),
  ];
  const blocks: RestoredBlock[] = state.blocks.map((b, i) => ({
    block: asBlockIndex(b.block),
    stage: Math.min(b.stage, steps + 1),
    latentSlot: latentSlots[i] as number,
    contextSlot: slotOfPrompt.get(b.prompt) as number,
  }));
  const replay: ReplayedBlock[] = state.replay.map((b) => ({ block: asBlockIndex(b.block), contextSlot: slotOfPrompt.get(b.prompt) as number }));
  return {
    prompts: { texts, segments, switches },
    resume: { nextBlock: state.nextBlock, finishedBlocks: state.nextBlock - blocks.length - replay.length, blocks, ...(replay.length > 0 ? { replay } : {}), cachedUnder },
    firstBlock: state.block,
  };
}

/** What {@link SnapshotTaker} needs of its generation. */
export interface SnapshotSource {
  readonly manifest: ModelManifest;
  readonly memory: SharedMemory;
  readonly featureStore: FeatureStore | null;
  readonly policy: FeatureCachePolicy;
  readonly fingerprint: SnapshotFingerprint;
  readonly steps: number;
  /** The supervisor's prompt timeline now. */
  readonly timeline: () => readonly PromptSegment[];
  /** Context slot → prompt text, kept up to date with live switches. */
  readonly texts: ReadonlyMap<number, string>;
  /**
   * Whether every block's latents are at its stage now; false while a block's steps run ahead
   * of its actor on a lane (`AheadExecutor.quiet`). Absent: always.
   */
  readonly settled?: () => boolean;
}

/**
 * Follows a generation's decodes and cache steps, and takes a snapshot between two ticks once
 * `every` more blocks have been cached. A snapshot is put off to a later tick while a block
 * after the first undecoded one has been decoded (two lanes finishing decodes out of order):
 * that block's latent slot may be gone, so the snapshot could not produce its frames again;
 * and while a block's steps run ahead of its actor (its latents are past its stage).
 *
 * @example
 * ```ts
 * const taker = new SnapshotTaker(source, { every: 2, onSnapshot }, { firstBlock: 0, cachedBlocks: 0 });
 * createGenerationSystem({ ...options, beforeTick: (state) => taker.beforeTick(state) });
 * ```
 */
export class SnapshotTaker {
  readonly #source: SnapshotSource;
  readonly #every: number;
  readonly #deliver: (snapshot: GenerationSnapshot) => void;
  /** Incremental snapshots: whether snapshot `seq` is still kept (its rows can be referred to). */
  readonly #kept: ((seq: number) => boolean) | null;
  /** This generation's chain of snapshots, and the next one's number in it. */
  readonly #chain = randomBytes(8).toString('hex');
  #seq = 0;
  /** KV slot → the snapshot that holds its frame's rows, as they were then (slot generation, re-caches). */
  readonly #rowsIn = new Map<number, { readonly generation: number; readonly recaches: number; readonly seq: number }>();
  /** Every block below it has been decoded. */
  #frontier: number;
  /** Decoded blocks above the frontier. */
  readonly #decodedAbove = new Set<number>();
  /** Blocks whose cache step has ended and whose decode has not: their latent and context slots. */
  readonly #awaitingDecode = new Map<number, { readonly latentSlot: number; readonly contextSlot: number }>();
  #cachedBlocks: number;
  #due: number;
  /** Blocks cached between K/V keyframes (0: every snapshot is one). */
  readonly #keyframeEvery: number;
  /** The last keyframe: the KV pool's table and prompt when it was taken, and when. */
  #keyframe: Keyframe | null = null;
  /** Blocks cached since the keyframe, with copies of their final latents (their slots are recycled before the next snapshot). */
  #sinceKeyframe: { readonly block: number; readonly contextSlot: number; readonly latents: Float32Array }[] = [];

  /**
   * `start.emptyPool`: the generation starts with no committed K/V (a fresh one, or one resumed
   * from a snapshot that replays from the start), with the pool's eviction count then: its start
   * is a keyframe that holds nothing, and the first snapshots replay from there.
   */
  constructor(source: SnapshotSource, options: SnapshotOptions | null, start: { readonly firstBlock: number; readonly cachedBlocks: number; readonly emptyPool?: { readonly evictions: number } }) {
    this.#source = source;
    this.#every = options?.every ?? 0;
    this.#deliver = options?.onSnapshot ?? (() => {});
    this.#kept = options?.incremental?.kept ?? null;
    // Cache steps run again write the run's K/V only where a block is alone in its ticks.
    this.#keyframeEvery = this.#kept !== null && source.fingerprint.parallelism === 0 ? (options?.keyframeEvery ?? 0) : 0;
    if (this.#keyframeEvery > 0 && start.emptyPool) {
      this.#keyframe = { frames: [], evictions: start.emptyPool.evictions, cachedUnder: null, recaches: 0, cachedBlocks: start.cachedBlocks };
    }
    this.#frontier = start.firstBlock;
    this.#cachedBlocks = start.cachedBlocks;
    this.#due = this.#nextDue();
  }

  /** Whether `block`'s frames are produced by this generation (a resumed one skips earlier blocks). */
  produces(block: number): boolean {
    return block >= this.#frontier || this.#decodedAbove.has(block);
  }

  /** A block's frames are out. */
  decoded(block: number): void {
    this.#awaitingDecode.delete(block);
    if (block < this.#frontier) return;
    this.#decodedAbove.add(block);
    while (this.#decodedAbove.delete(this.#frontier)) this.#frontier++;
  }

  /** A block's cache step has ended (its latents stay in `latentSlot` until decoded). */
  cached(block: number, latentSlot: number, contextSlot: number): void {
    this.#cachedBlocks++;
    if (this.#keyframe !== null) this.#sinceKeyframe.push({ block, contextSlot, latents: slotView(this.#source.memory.latents, latentSlot).slice() });
    if (block >= this.#frontier && !this.#decodedAbove.has(block)) this.#awaitingDecode.set(block, { latentSlot, contextSlot });
  }

  #nextDue(): number {
    return this.#every === 0 ? Number.POSITIVE_INFINITY : (Math.floor(this.#cachedBlocks / this.#every) + 1) * this.#every;
  }

  /** The barrier's hook: a snapshot when one is due and the state allows it. */
  beforeTick(state: BetweenTicks): { readonly block: number; readonly bytes: number; readonly captureMs: number; readonly replays: number } | null {
    if (this.#cachedBlocks < this.#due || this.#decodedAbove.size > 0) return null;
    if (state.pool.slots.some((s) => s.state === 'reserved')) return null;
    if (this.#source.settled?.() === false) return null;
    const started = performance.now();
    const seq = this.#seq++;
    const { bytes, requires, replays } = this.#capture(state, seq);
    const captureMs = performance.now() - started;
    this.#due = this.#nextDue();
    const block = this.#frontier;
    this.#deliver({ block, firstFrame: block * this.#source.manifest.framesPerBlock, seq, requires, replays, bytes, captureMs });
    return { block, bytes: bytes.length, captureMs, replays };
  }

  /**
   * Which snapshot holds the rows of the frame in `slot`: an earlier one that holds them as they
   * are now (same slot generation, no re-cache since) and is still kept, else this one.
   */
  #heldBy(slot: { readonly slot: number; readonly generation: number }, recaches: number, seq: number): number {
    const earlier = this.#rowsIn.get(slot.slot);
    if (this.#kept && earlier && earlier.generation === slot.generation && earlier.recaches === recaches && this.#kept(earlier.seq)) return earlier.seq;
    this.#rowsIn.set(slot.slot, { generation: slot.generation, recaches, seq });
    return seq;
  }

  #capture(state: BetweenTicks, seq: number): { readonly bytes: Uint8Array; readonly requires: readonly number[]; readonly replays: number } {
    const source = this.#source;
    const members = state.members;
    const nextBlock = Math.max(...members.map((m) => m.block)) + 1;
    const between = this.#betweenKeyframes(state);
    const replayed = between === null ? null : this.#sinceKeyframe;
    const waiting = [...this.#awaitingDecode].filter(([block]) => !members.some((m) => m.block === block) && !replayed?.some((b) => b.block === block));
    const relevant = Math.min(this.#frontier, ...members.map((m) => m.block), ...waiting.map(([block]) => block), ...(replayed ?? []).map((b) => b.block));
    // Prompts are numbered by context slot of this run, so two slots holding one text stay two prompts (the re-cache compares slots).
    const promptOf = new Map<number, number>();
    const prompts: string[] = [];
    const prompt = (contextSlot: number): number => {
      let index = promptOf.get(contextSlot);
      if (index === undefined) {
        index = prompts.push(source.texts.get(contextSlot) ?? '') - 1;
        promptOf.set(contextSlot, index);
      }
      return index;
    };
    const all = source.timeline();
    const start = all.reduce((at, s, i) => (s.fromBlock <= relevant ? i : at), 0);
    const timeline = all.slice(start).map((s, i) => ({ fromBlock: i === 0 ? 0 : s.fromBlock, prompt: prompt(s.contextSlot) }));
    const blocks = [
      ...members.map((m) => ({ block: m.block as number, stage: m.stage, prompt: prompt(m.contextSlot), latentSlot: m.latentSlot })),
      ...waiting.map(([block, at]) => ({ block, stage: source.steps + 1, prompt: prompt(at.contextSlot), latentSlot: at.latentSlot })),
    ];
    // Between keyframes the KV pool is the keyframe's (the rows all held by it or earlier ones).
    const frames =
      between !== null
        ? between.frames.map((f) => ({ ...f, slot: -1 }))
        : state.pool.slots
            .filter((s) => s.state === 'committed')
            .map((s) => ({ slot: s.slot, position: s.position as number, block: s.block as number, heldBy: this.#heldBy(s, state.recaches, seq) }));
    const cachedUnder = between !== null ? between.cachedUnder : state.cachedUnder;
    const denoising = members.filter((m) => m.stage < source.steps);
    const requires = requiredSnapshots({ frames, seq });
    const bytes = captureSnapshot(source.memory, source.featureStore, {
      model: source.manifest.name,
      chain: this.#chain,
      seq,
      fingerprint: source.fingerprint,
      block: this.#frontier,
      nextBlock,
      cachedBlocks: this.#cachedBlocks,
      prompts,
      timeline,
      cachedUnder: cachedUnder === null ? null : prompt(cachedUnder),
      blocks,
      frames,
      evictions: between?.evictions ?? state.pool.evictions,
      replay: (replayed ?? []).map((b) => ({ block: b.block, prompt: prompt(b.contextSlot), latents: b.latents })),
      policy: source.policy.saveBlocks(denoising.map((m) => m.block)),
      featureBlocks: denoising.map((m) => {
        const unread = source.featureStore === null ? [] : unreadRanges(source.featureStore, source.manifest, source.policy.measures(m.block));
        return { block: m.block, latentSlot: m.latentSlot, ...(unread.length > 0 ? { unread } : {}) };
      }),
    });
    if (between === null && this.#keyframeEvery > 0) {
      this.#keyframe = { frames: frames.map(({ position, block, heldBy }) => ({ position, block, heldBy })), evictions: state.pool.evictions, cachedUnder: state.cachedUnder, recaches: state.recaches, cachedBlocks: this.#cachedBlocks };
      this.#sinceKeyframe = [];
    }
    return { bytes, requires, replays: replayed?.length ?? 0 };
  }

  /**
   * The keyframe a snapshot now may refer to instead of holding K/V, or null when it must be a
   * keyframe: M blocks cached since, a re-cache since (the replay would not repeat it), the
   * keyframe's rows no longer kept, or no latent slot left for a replayed block beside those the
   * snapshot restores.
   */
  #betweenKeyframes(state: BetweenTicks): Keyframe | null {
    const key = this.#keyframe;
    const kept = this.#kept;
    if (key === null || kept === null || this.#cachedBlocks - key.cachedBlocks >= this.#keyframeEvery || state.recaches !== key.recaches) return null;
    if (!key.frames.every((f) => kept(f.heldBy))) return null;
    return this.#awaitingDecode.size + state.members.length < this.#source.memory.latents.slots ? key : null;
  }
}

/**
 * A K/V keyframe as the snapshots after it refer to it: the KV pool's committed frames (and who
 * holds their rows), its eviction count and cache prompt (a context slot), the re-cache count,
 * and the blocks cached when it was taken. A generation that starts with no K/V starts at one
 * with no frames.
 */
interface Keyframe {
  readonly frames: readonly SnapshotFrame[];
  readonly evictions: number;
  readonly cachedUnder: number | null;
  readonly recaches: number;
  readonly cachedBlocks: number;
}
