/**
 * One generation, from admission to cleanup: it wires a resolved request to the actor system
 * and the lanes, applies backpressure and live controls, records its trace, honours its
 * AbortSignal, and leaves its lane tasks settled when it ends. The runtime runs several at once,
 * each on its own memory set (`GenerationHost.memory`), all on the same lanes.
 */
import { performance } from 'node:perf_hooks';
import type { InspectionEvent, Observer } from 'xstate';
import { createGenerationSystem, type GenerationSystem } from '../actors/system.js';
import { countLiveActors } from '../actors/live-actors.js';
import type { ForwardInput } from '../actors/block.js';
import type { BetweenTicks } from '../actors/tick-barrier.js';
import type { ReplayLoad } from '../actors/supervisor.js';
import { createFeatureCachePolicy, featureTrackingOf, type FeatureBlockState, type FeatureCacheSettings } from '../core/feature-cache.js';
import { loadCalibration } from '../engine/model/calibration.js';
import type { FeatureStore } from '../engine/lanes/feature-store.js';
import type { StaleStore } from '../engine/lanes/stale-store.js';
import type { Frame, GenerateOptions, RuntimeStats } from '../core/api-types.js';
import { stageNames } from '../core/domain.js';
import { GenerationAbortedError, GenerationFailedError } from '../core/errors.js';
import type { ModelManifest } from '../core/manifest-types.js';
import type { ResolvedGeneration } from '../core/options.js';
import { buildSchedule } from '../core/sampler.js';
import type { SessionLink } from '../core/session-types.js';
import type { RecachePlan, TickExecutor, TickTiming } from '../core/tick.js';
import { TRACE_VERSION, type EndRecord, type MetaRecord } from '../core/trace-records.js';
import { decodeSnapshot } from '../engine/snapshot/snapshot-format.js';
import { restoreSlabs } from '../engine/snapshot/restore.js';
import { checkResumable, checkSnapshotMode, fingerprintOf, freshPrompts, resumePlan, SnapshotTaker, type PromptPlan, type ResumePlan } from './snapshots.js';
import { OwnPromptsExecutor } from '../engine/executors/own-prompts.js';
import { RecoveringExecutor } from '../engine/executors/recovering.js';
import { AheadExecutor } from '../engine/executors/ahead.js';
import { keyFrameWorkOf } from '../engine/executors/lanes.js';
import { retryCrashes, type CrashRecovery } from '../engine/lanes/crash-recovery.js';
import { executorKind } from '../engine/executors/registry.js';
import type { Lane, TaskTiming } from '../engine/lanes/lane.js';
import type { SharedMemory } from '../engine/memory/memory-plan.js';
import { slotView } from '../engine/memory/slot-slab.js';
import { tokenizePrompt } from '../engine/model/tokenizer.js';
import { Tracer } from '../trace/tracer.js';
import { OrderedFrameQueue } from './frame-queue.js';
import { BackpressureGate } from './backpressure.js';
import { liveControls } from './live-controls.js';

/** An XState inspection observer (e.g. Stately's inspector), or a plain callback. */
export type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** What a runtime lends a generation. */
export interface GenerationHost {
  readonly manifest: ModelManifest;
  readonly lanes: readonly Lane[];
  /** This generation's memory set: its slabs, no other generation's while it runs. */
  readonly memory: SharedMemory;
  /** The set's index: every task this generation hands a lane names it. */
  readonly memoryIndex: number;
  /** The generation's id on its runtime (`session` in the trace's meta record). */
  readonly sessionId?: number;
  readonly inspect: InspectObserver | undefined;
  /** Whether a sequential block's steps may go to a lane as one task (`AheadExecutor`). */
  readonly runAhead?: boolean;
  /** False when the lanes run feature-caching ticks through the layered chain (`RuntimeInternals.fusedForward`). */
  readonly fusedForward?: boolean;
  /** The least busy lane; with `home` (the session's memory set), ties go to that session's own lane. */
  pickLane(home?: number): Lane;
  /** Adds a finished tick or re-cache to the runtime's counters. */
  count(update: Partial<RuntimeStats>): void;
  /** The memory set's feature-cache store (allocated on first use through the memory plan). */
  featureStore(): FeatureStore;
  /** The memory set's `stale` mode store (allocated on first use through the memory plan). */
  staleStore(): StaleStore;
}

/** One inspection observer that feeds the user's and the tracer's. */
function combineInspectors(user: InspectObserver | undefined, tracer: ((event: InspectionEvent) => void) | undefined): ((event: InspectionEvent) => void) | undefined {
  if (!user && !tracer) return undefined;
  const deliver = typeof user === 'function' ? user : user?.next?.bind(user);
  return (event) => {
    deliver?.(event);
    tracer?.(event);
  };
}

/** `{ key: value }` when the value is defined, else nothing (optional properties stay absent). */
const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } => (value === undefined ? {} : ({ [key]: value } as { [P in K]: V }));

const tickStats = (timing: TickTiming): Partial<RuntimeStats> => ({
  ticks: 1,
  forwards: timing.forwards,
  reusedForwards: timing.reused ?? 0,
  reusedTogether: timing.reusedTogether ?? 0,
  featureCacheMs: timing.featureMs ?? 0,
  exchangeWaitMs: timing.exchangeWaitMs ?? 0,
  forwardRunMs: timing.runMs,
  forwardWorkerMs: timing.workerMs,
  forwardTaskMs: timing.taskMs,
});

/**
 * A generation's frames, produced as the consumer iterates.
 *
 * @example
 * ```ts
 * const generation = new Generation(host, resolveGeneration(request, [settings], context), options);
 * for await (const frame of generation.run()) show(frame);
 * ```
 */
export class Generation {
  readonly #host: GenerationHost;
  readonly #resolved: ResolvedGeneration;
  readonly #options: GenerateOptions;
  readonly #link: SessionLink | undefined;
  /** The supervisor while the generation runs (between assembly and cleanup), else null. */
  #actor: GenerationSystem['actor'] | null = null;
  /** The executor that runs sequential blocks' steps back to back, when this generation uses it. */
  #ahead: AheadExecutor | null = null;
  /** Ends the running generation with a `GenerationAbortedError` (as its signal would); null when it is not running. */
  #abort: ((reason: unknown) => void) | null = null;
  /** An abort asked before `run` could take it: taken as soon as it can. */
  #abortedBefore: { readonly reason: unknown } | undefined;
  /** This generation's own share of `RuntimeStats.forwards` and `reusedForwards`, for its `end` event. */
  readonly #forwards = { forwards: 0, reusedForwards: 0 };
  /** What a resume restores beyond its plan: the feature-cache policy's state, the KV pool's table, the latents of blocks to replay. */
  #restored: {
    readonly cachedBlocks: number;
    /** Replayed block → its final latents (copied out of `resumeFrom`, which the caller may reuse). */
    readonly replayLatents: ReadonlyMap<number, Float32Array>;
    readonly policy: readonly FeatureBlockState[];
    readonly kv: { readonly evictions: number; readonly committed: readonly { readonly slot: number; readonly position: number; readonly block: number }[] };
  } | null = null;

  constructor(host: GenerationHost, resolved: ResolvedGeneration, options: GenerateOptions, link?: SessionLink) {
    this.#host = host;
    this.#resolved = resolved;
    this.#options = options;
    this.#link = link;
  }

  /** Ends it now with a `GenerationAbortedError`, as an abort of its signal does (`Runtime.close` with a signal). */
  abort(reason: unknown): void {
    if (this.#abort) this.#abort(reason);
    else this.#abortedBefore ??= { reason };
  }

  /**
   * Actors alive in this generation's XState system (supervisor, KV pool, blocks, their
   * forwards, decodes); 0 before it starts and once it has ended. Read-only: for soak checks
   * that the count stays bounded by the cascade window however long the video.
   */
  liveActors(): number {
    return this.#actor === null ? 0 : countLiveActors(this.#actor);
  }

  /** Runs the generation; the lanes are idle again when the iterator ends, however it ends. */
  async *run(): AsyncGenerator<Frame, void, undefined> {
    const { manifest: m, lanes } = this.#host;
    const { request } = this.#resolved;
    const link = this.#link;
    const { signal } = this.#options;
    signal?.throwIfAborted();
    let resume: ResumePlan | null;
    try {
      resume = this.#resume();
    } catch (error) {
      // Refused before the controls were attached: a session's controls fail instead of waiting.
      link?.detach();
      throw error;
    }
    const firstBlock = resume?.firstBlock ?? 0;
    const gate = new BackpressureGate((link?.maxBufferedBlocks ?? Number.POSITIVE_INFINITY) * m.framesPerBlock, link);
    // Blocks are reported (trace, events, progress) as they reach the consumer, in block order,
    // whatever order two lanes finish their decodes in.
    const queue: OrderedFrameQueue = new OrderedFrameQueue(
      { framesPerBlock: m.framesPerBlock, width: m.video.width, height: m.video.height },
      () => gate.taken(queue.bufferedFrames),
      (block) => onReleased(block),
      firstBlock,
    );
    const start = performance.now();
    const tracer = this.#options.trace ? new Tracer(this.#options.trace, this.#resolved.schedule, start, this.#host.sessionId) : null;
    tracer?.record(this.#metaRecord());
    const prompts = resume?.prompts ?? freshPrompts(request);
    for (const s of prompts.switches) tracer?.record({ kind: 'switch', prompt: s.prompt, fromBlock: s.atBlock, live: false });
    // Lanes are shared by concurrent sessions: the trace keeps this generation's tasks only.
    const mine = this.#host.memoryIndex;
    const unobserve = tracer ? lanes.map((lane) => lane.observe((activity) => {
          if ((activity.task.memory ?? 0) === mine) tracer.lane(activity);
        })) : [];
    let blocksDone = 0;
    const onReleased = (block: number) => {
      tracer?.record({ kind: 'frame', block, firstFrame: block * m.framesPerBlock, frames: m.framesPerBlock });
      const elapsedMs = performance.now() - start;
      link?.emit({ type: 'block', block, elapsedMs, bufferedBlocks: queue.bufferedFrames / m.framesPerBlock });
      gate.buffered(queue.bufferedFrames);
      const framesDone = ++blocksDone * m.framesPerBlock;
      this.#options.onProgress?.({ blocksDone, blocksTotal: request.blocks - firstBlock, framesDone, elapsedMs, fps: (framesDone * 1000) / elapsedMs });
    };
    const texts = new Map(prompts.texts);
    const { actor, barrier } = this.#assemble(queue, tracer, prompts, texts, resume);
    this.#actor = actor;
    gate.connect((event) => actor.send(event));
    const onAbort = () => queue.fail(new GenerationAbortedError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#abort = (reason) => queue.fail(new GenerationAbortedError(reason));
    if (this.#abortedBefore !== undefined) this.#abort(this.#abortedBefore.reason);
    let stopped = false;
    link?.attach(
      liveControls({
        actor,
        flow: gate.flow,
        link,
        text: m.text,
        allowUnknownWords: this.#options.allowUnknownWords === true,
        contextSlots: this.#host.memory.contexts.slots,
        encode: (tokens, contextSlot) => this.#encode(tokens, contextSlot),
        onSwitch: (prompt, fromBlock, contextSlot) => {
          texts.set(contextSlot, prompt);
          tracer?.record({ kind: 'switch', prompt, fromBlock, live: true });
        },
        onStop: () => (stopped = true),
      }),
    );
    let outcome: EndRecord['outcome'] = 'stopped';
    let failure: string | undefined;
    try {
      actor.start();
      yield* queue;
      if (!stopped) outcome = 'finished';
    } catch (error) {
      outcome = error instanceof GenerationAbortedError ? 'aborted' : 'failed';
      failure = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      tracer?.record({ kind: 'end', blocks: blocksDone, outcome, ...(failure === undefined ? {} : { error: failure }) });
      for (const stop of unobserve) stop();
      link?.detach();
      link?.emit({ type: 'end', blocks: blocksDone, stopped, ...this.#forwards });
      signal?.removeEventListener('abort', onAbort);
      this.#abort = null;
      actor.stop();
      this.#actor = null;
      barrier.stop();
      this.#ahead?.cancel();
      // Tasks already on a lane still write into the slabs: let them land before the next
      // generation reuses the memory set (other sessions' tasks are not waited for).
      await Promise.all(lanes.map((lane) => lane.settled(mine)));
    }
  }

  /**
   * A resume's start, read from `resumeFrom` and copied into this generation's memory set before
   * anything runs; null for a fresh generation. Checks every snapshot option first.
   */
  #resume(): ResumePlan | null {
    const { snapshots, resumeFrom } = this.#options;
    const { request, settings } = this.#resolved;
    if (snapshots) checkSnapshotMode(settings.exec, 'snapshots');
    if (resumeFrom === undefined) return null;
    checkSnapshotMode(settings.exec, 'resumeFrom');
    const host = this.#host;
    const state = decodeSnapshot(resumeFrom);
    checkResumable(state, host.manifest.name, fingerprintOf(this.#resolved, host.manifest, host.lanes.length));
    const featureStore = settings.featureCache.policy === 'none' ? null : host.featureStore();
    const { latentSlots, kvSlots } = restoreSlabs(host.memory, featureStore, state);
    const plan = resumePlan(state, request, latentSlots, host.memory.contexts.slots, settings.steps);
    const latentFloats = host.memory.latents.slotLength;
    this.#restored = {
      // Replayed blocks report their cache steps again.
      cachedBlocks: state.cachedBlocks - state.replay.length,
      replayLatents: new Map(state.replay.map((b, i) => [b.block, state.replayLatents.slice(i * latentFloats, (i + 1) * latentFloats)])),
      policy: state.policy,
      kv: { evictions: state.evictions, committed: state.frames.map((f, j) => ({ slot: kvSlots[j] as number, position: f.position, block: f.block })) },
    };
    return plan;
  }

  /** The actor system on this runtime's lanes: prompts encoded, blocks decoded into `queue`. */
  #assemble(queue: OrderedFrameQueue, tracer: Tracer | null, prompts: PromptPlan, texts: Map<number, string>, resume: ResumePlan | null): GenerationSystem {
    const host = this.#host;
    const m = host.manifest;
    const { request, settings, schedule } = this.#resolved;
    // Block-wise feature caching: the policy decides each member's compute/reuse from the
    // indicators the lanes report with each tick; the tensors stay in the lanes' shared store.
    // teacache without coefficients: the model's calibration (calibrations/<model name>.json).
    const cacheSettings =
      settings.featureCache.policy === 'teacache' && settings.featureCache.coefficients === undefined
        ? (() => {
            const calibration = loadCalibration(m.name, settings.steps);
            return { ...settings.featureCache, coefficients: calibration.coefficients, ...(calibration.inputRange ? { inputRange: calibration.inputRange } : {}) };
          })()
        : settings.featureCache;
    const policy = createFeatureCachePolicy(cacheSettings, settings.steps);
    if (this.#restored) policy.restoreBlocks(this.#restored.policy);
    const caching = settings.featureCache.policy !== 'none';
    const track = featureTrackingOf(settings.featureCache);
    const tokensOf = (contextSlot: number) => Array.from(tokenizePrompt(texts.get(contextSlot) ?? '', m.text), Number);
    // K/V are kept for a reusing member that other members attend to: none at parallelism 0,
    // where a block is alone in its ticks.
    const featureStore = caching
      ? { ...host.featureStore(), ...(track ? { track } : {}), keepKeyValues: settings.parallelism > 0, ...(settings.featureCache.policy === 'fbcache' ? { decideBelow: settings.featureCache.threshold } : {}) }
      : null;
    const snapshots = this.#options.snapshots;
    const taker = new SnapshotTaker(
      {
        manifest: m,
        memory: host.memory,
        featureStore,
        policy,
        fingerprint: fingerprintOf(this.#resolved, m, host.lanes.length),
        steps: settings.steps,
        timeline: () => system.actor.getSnapshot().context.prompts,
        texts,
        settled: () => this.#ahead?.quiet ?? true,
      },
      snapshots ?? null,
      {
        firstBlock: resume?.firstBlock ?? 0,
        cachedBlocks: this.#restored?.cachedBlocks ?? 0,
        ...(this.#restored === null ? { emptyPool: { evictions: 0 } } : this.#restored.kv.committed.length === 0 ? { emptyPool: { evictions: this.#restored.kv.evictions } } : {}),
      },
    );
    const recovery: CrashRecovery = {
      lanes: host.lanes,
      exchange: host.memory.exchange,
      memory: host.memoryIndex,
      onRetire: (lane, error) => this.#link?.emit({ type: 'lane-retired', lane: lane.id, crashes: lane.crashes, message: error.message }),
    };
    // Encodes and decodes recover without aborting the exchange: a crash of theirs must not
    // break a `lanes` tick of this generation that is running on the other lanes.
    const taskRecovery: CrashRecovery = { lanes: recovery.lanes, memory: host.memoryIndex, ...(recovery.onRetire ? { onRetire: recovery.onRetire } : {}) };
    const replayLatents = this.#restored?.replayLatents;
    const system = createGenerationSystem({
      seed: request.seed,
      blocks: request.blocks,
      schedule,
      attention: settings.attention,
      // At P0 no block is in flight: the window hides nothing, and the plan stays the sequential one.
      ...(settings.cascadeWindow === 'trained' && settings.parallelism > 0 ? { window: { frames: m.kv.windowFrames, sinkFrames: m.kv.sinkFrames } } : {}),
      ...(settings.parallelism > 0 && executorKind(settings.exec).needs.dispatch === 'member' ? { dispatch: 'member' as const, concurrency: host.lanes.length } : {}),
      recache: settings.recache === 'on',
      executor: this.#executor(featureStore, recovery, cacheSettings),
      port: {
        encodePrompts: async (contextSlots) => {
          for (const contextSlot of contextSlots) {
            await retryCrashes(() => this.#encode(tokensOf(contextSlot), contextSlot), taskRecovery);
          }
        },
        decode: async (block, latentSlot) => {
          // A resumed generation restores a block in its cache step even when its frames were out before the snapshot.
          if (!taker.produces(block)) return;
          // A block whose steps ran ahead was decoded by the same task (null: it stopped first).
          const { rgb, runMs } = (await this.#ahead?.decoded(block)) ?? (await retryCrashes(() => host.pickLane().decode({ kind: 'decode', memory: host.memoryIndex, block, latentSlot }), taskRecovery));
          host.count({ decodeRunMs: runMs });
          taker.decoded(block);
          queue.push(block, rgb);
        },
      },
      framesPerBlock: m.framesPerBlock,
      latentSlots: host.memory.latents.slots,
      prompts: prompts.segments,
      kv: { capacity: host.memory.kv.layout.capacitySlots, sinkFrames: m.kv.sinkFrames, windowFrames: m.kv.windowFrames, ...(this.#restored ? this.#restored.kv : {}) },
      ...(resume ? { resume: resume.resume } : {}),
      ...(replayLatents !== undefined && replayLatents.size > 0
        ? { loadReplay: ({ block, latentSlot }: ReplayLoad) => slotView(host.memory.latents, latentSlot).set(replayLatents.get(block) as Float32Array) }
        : {}),
      ...(snapshots
        ? {
            beforeTick: (state: BetweenTicks) => {
              const taken = taker.beforeTick(state);
              if (taken) tracer?.record({ kind: 'snapshot', ...taken });
            },
          }
        : {}),
      onTick: (tick, members, timing) => {
        policy.observe(timing.indicators ?? []);
        if (caching && tracer && timing.indicators && timing.indicators.length > 0) {
          tracer.record({ kind: 'features', tick, indicators: timing.indicators.map((i) => ({ ...i, trigger: policy.triggerStep(i.block) })) });
        }
        for (const member of members) {
          if (member.stage !== schedule.steps) continue;
          policy.forget(member.block);
          taker.cached(member.block, member.latentSlot, member.contextSlot);
        }
        host.count(tickStats(timing));
        this.#forwards.forwards += timing.forwards;
        this.#forwards.reusedForwards += timing.reused ?? 0;
      },
      ...(caching ? { features: (input: ForwardInput) => policy.use(input.block, input.stage), measures: (input: ForwardInput) => policy.measures(input.block) } : {}),
      onRecache: (plan: RecachePlan, timing) => {
        host.count({ recaches: 1, recacheTaskMs: timing.taskMs });
        this.#link?.emit({ type: 'recache', beforeBlock: plan.beforeBlock, frames: plan.slots.length, ms: timing.taskMs });
        tracer?.record({ kind: 'recache', beforeBlock: plan.beforeBlock, frames: plan.slots.length, ms: timing.taskMs });
      },
      ...optional('inspect', combineInspectors(host.inspect, tracer?.inspect)),
    });
    system.actor.subscribe({
      next: (snapshot) => {
        if (snapshot.status !== 'done') return;
        if (snapshot.value === 'failed') {
          queue.fail(new GenerationFailedError(snapshot.context.failure?.block ?? -1, snapshot.context.failure?.message ?? 'unknown failure'));
        } else {
          queue.end();
        }
      },
      error: (error) => queue.fail(error),
    });
    return system;
  }

  /**
   * The generation's execution mode on the runtime's lanes; at `at-block`, each block under its
   * own prompt; at P0, each block's steps run ahead on a lane where nothing rules it out.
   */
  #executor(featureStore: FeatureStore | null, recovery: CrashRecovery, cacheSettings: FeatureCacheSettings): TickExecutor {
    const { manifest: m, lanes, memory } = this.#host;
    const { settings } = this.#resolved;
    const schedule = buildSchedule(m.sampler, settings.steps);
    const executor = executorKind(settings.exec).create({
      schedule,
      lanes,
      exchange: memory.exchange,
      framesPerBlock: m.framesPerBlock,
      // Ticks keep to the session's own lane while the load is even (see Runtime#pickLane).
      pickLane: () => this.#host.pickLane(this.#host.memoryIndex),
      featureStore,
      staleStore: () => this.#host.staleStore(),
      memory: this.#host.memoryIndex,
      keyFrameWork: keyFrameWorkOf(m),
    });
    const prompted = settings.switchMode === 'at-block' ? new OwnPromptsExecutor(executor) : executor;
    const features = featureStore === null ? null : { store: featureStore, manifest: m };
    // A resumed block mid-way goes step by step; snapshots wait for a block's steps to be reported (`quiet`).
    // With caching, a lane's steps go through the fused graphs (the layered chain's per-layer exchange is per tick).
    const ahead = this.#host.runAhead === true && settings.parallelism === 0 && (featureStore === null ? settings.exec === 'joint' : settings.exec === 'layered' && this.#host.fusedForward !== false);
    const frameBytes = m.framesPerBlock * m.video.height * m.video.width * 3;
    const caching = featureStore === null ? null : { store: featureStore, settings: cacheSettings, framesPerBlock: m.framesPerBlock };
    // A run also computes the block's cache step, through the graph its cache tick would run.
    const cacheStep = { memory, presentFloats: m.layers * m.heads * m.framesPerBlock * m.tokensPerFrame * m.headDim };
    this.#ahead = ahead ? new AheadExecutor(prompted, { schedule, pickLane: () => this.#host.pickLane(this.#host.memoryIndex), memory: this.#host.memoryIndex, frameBytes, caching, cacheStep }) : null;
    return new RecoveringExecutor(this.#ahead ?? prompted, { latents: memory.latents, latentSteps: memory.latentSteps, steps: settings.steps, features }, recovery);
  }

  /** Encodes a prompt's tokens into `contextSlot` on the least busy lane, counting the encoder's time. */
  async #encode(tokens: readonly number[], contextSlot: number): Promise<TaskTiming> {
    const timing = await this.#host.pickLane().encode({ kind: 'encode', memory: this.#host.memoryIndex, tokens, contextSlot });
    this.#host.count({ encodeRunMs: timing.runMs });
    return timing;
  }

  /** The trace's first record: what runs. */
  #metaRecord(): Omit<MetaRecord, 't'> {
    const { manifest: m, lanes, memory } = this.#host;
    const { request, settings, schedule } = this.#resolved;
    return {
      kind: 'meta',
      version: TRACE_VERSION,
      startedAt: Date.now(),
      ...(this.#host.sessionId === undefined ? {} : { session: this.#host.sessionId }),
      model: m.name,
      lanes: lanes.length,
      parallelism: settings.parallelism,
      attention: settings.attention,
      exec: settings.exec,
      recache: settings.recache,
      switchMode: settings.switchMode,
      cascadeWindow: settings.cascadeWindow,
      steps: settings.steps,
      lag: schedule.lag,
      ...(settings.featureCache.policy === 'none' ? {} : { featureCache: settings.featureCache }),
      seed: request.seed,
      blocks: request.blocks,
      framesPerBlock: m.framesPerBlock,
      kvCapacity: memory.kv.layout.capacitySlots,
      blockStates: ['queued', ...stageNames(settings.steps), 'done'],
    };
  }
}
