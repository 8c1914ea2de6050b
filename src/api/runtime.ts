/**
 * The public runtime: a model loaded on a set of lanes with its shared memory. It runs up to
 * `maxSessions` generations ({@link Generation}) at once, each on its own memory set, queues a
 * bounded number more, refuses the rest ({@link RuntimeBusyError}), and resolves each one's
 * options once. See docs/serving.md.
 */
import { availableParallelism, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { asLaneId } from '../core/domain.js';
import type { Frame, GenerateOptions, GenerateRequest, LoadProgress, RuntimeOptions, RuntimeStartup, RuntimeStats } from '../core/api-types.js';
import { GenerationAbortedError, InvalidOptionError, RuntimeBusyError, RuntimeClosedError } from '../core/errors.js';
import type { ModelManifest } from '../core/manifest-types.js';
import { checkGenerateOptions, checkRuntimeOptions, MAX_LANES_ENV, maxLanes, resolveGeneration, resolveLanes, resolveSettings, type ResolveContext, type UncheckedInput } from '../core/options.js';
import { ASYNC_DISPOSE } from '../core/dispose.js';
import type { GenerationSession, SessionOptions } from '../core/session-types.js';
import { faultsOfLane, type LaneFault } from '../engine/lanes/faults.js';
import { applyOnnxLogLevel, resolveOnnxLogLevel } from '../engine/lanes/execution-provider.js';
import { executorKind } from '../engine/executors/registry.js';
import { inService, Lane } from '../engine/lanes/lane.js';
import { allocateFeatureCache, allocateMemory, allocateStale, defaultMaxSessions, MAX_IN_FLIGHT_BLOCKS, planMemory, type SharedMemory } from '../engine/memory/memory-plan.js';
import type { FeatureStore } from '../engine/lanes/feature-store.js';
import type { StaleStore } from '../engine/lanes/stale-store.js';
import { sharedBytesOf } from '../engine/memory/shared-bytes.js';
import { loadModelPackage } from '../engine/model/loader.js';
import { modelPackageError } from '../engine/model/errors.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { Generation, type InspectObserver } from './generation.js';
import { DEFAULT_MAX_BUFFERED_BLOCKS, liveSession } from './live-session.js';
import { resolveContextFor } from './resolve-context.js';
import { PriorityHolder } from './session-priority.js';

/** Options of {@link createRuntime} beyond the public ones. */
export interface RuntimeInternals {
  /** An XState inspection observer, called for every actor event (e.g. Stately's inspector). */
  readonly inspect?: InspectObserver;
  /** Crash-recovery tests: lane workers kill themselves at these tasks (`engine/lanes/faults.ts`). */
  readonly faults?: readonly LaneFault[];
  /**
   * Benchmarks and tests: false runs feature-caching ticks through the layered graphs one by one
   * instead of the fused forward and the reuse graph (`engine/lanes/fused-share.ts`,
   * `fused-reuse.ts`), to compare them. Default true.
   */
  readonly fusedForward?: boolean;
  /**
   * Benchmarks and tests: false hands a sequential block's denoising steps to the lane one at a
   * time instead of back to back (`engine/executors/ahead.ts`), to compare them. Default true.
   */
  readonly runAhead?: boolean;
  /**
   * Benchmarks and tests: false runs a sequential block's consecutive reused steps (bwcache, once
   * its schedule is fixed) one call each instead of one call together (`engine/lanes/reuse-run.ts`),
   * to compare them. Default true.
   */
  readonly reuseRuns?: boolean;
  /**
   * Benchmarks and tests: false runs each layer of a lane's share as one masked call over every
   * key it gathers, instead of one call per group of queries with only the keys they see
   * (`engine/lanes/key-groups.ts`), to compare them. Default true.
   */
  readonly groupKeys?: boolean;
}

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } => (value === undefined ? {} : ({ [key]: value } as { [P in K]?: V }));

const settingsOf = (o: { readonly cascade?: UncheckedInput | undefined; readonly steps?: number | undefined; readonly featureCache?: unknown }): UncheckedInput => ({
  ...o.cascade,
  ...(o.steps === undefined ? {} : { steps: o.steps }),
  ...(o.featureCache === undefined ? {} : { featureCache: o.featureCache }),
});

/** Generations that may wait for a memory set, by default (`RuntimeOptions.maxQueuedSessions`). */
export const DEFAULT_MAX_QUEUED_SESSIONS = 8;
/** `RuntimeBusyError.retryAfterMs` before any generation has finished. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/** A generation waiting for a memory set. */
interface Waiter {
  readonly grant: (memory: number) => void;
  /** Ends the wait with `error` (the runtime is closing with its signal aborted). */
  readonly refuse: (error: Error) => void;
}

/**
 * A loaded model on a set of lanes. Create it with {@link createRuntime}; up to
 * {@link maxSessions} generations run at once, each on its own memory set, sharing the lanes;
 * {@link maxQueuedSessions} more wait for a set (in arrival order), and beyond those a
 * generation fails with {@link RuntimeBusyError} when its iteration starts.
 */
export class Runtime {
  readonly manifest: ModelManifest;
  readonly lanes: readonly Lane[];
  /** How long `createRuntime` took, and its warm-up. */
  readonly startup: RuntimeStartup;
  /** Generations that run at once (one memory set each). */
  readonly maxSessions: number;
  /** Generations that may wait for a memory set once {@link maxSessions} run. */
  readonly maxQueuedSessions: number;
  /** One memory set per concurrent generation; index i is what lane tasks call `memory: i`. */
  readonly #memories: readonly SharedMemory[];
  /** Indices of the sets no generation holds, lowest first. */
  readonly #free: number[];
  readonly #waiters: Waiter[] = [];
  /** Memory sets of `'high'` sessions (`SessionOptions.priority`): every lane's `preferred`. */
  readonly #preferred = new Set<number>();
  /** Generations started (running or waiting), each until it has released its set: `close` waits for them. */
  readonly #active = new Set<Promise<void>>();
  /** Mean milliseconds a generation held its set (for `retryAfterMs`), and how many were seen. */
  #heldMs = { mean: 0, count: 0 };
  readonly #inspect: InspectObserver | undefined;
  readonly #runAhead: boolean;
  readonly #fusedForward: boolean;
  /** The runtime's settings as given (checked at the door); a generation's own override them field by field. */
  readonly #defaults: UncheckedInput;
  readonly #context: ResolveContext;
  #stats: { -readonly [K in keyof Omit<RuntimeStats, 'batchedCalls'>]: RuntimeStats[K] } = { ticks: 0, forwards: 0, forwardRunMs: 0, decodeRunMs: 0, encodeRunMs: 0, forwardWorkerMs: 0, forwardTaskMs: 0, exchangeWaitMs: 0, reusedForwards: 0, reusedTogether: 0, featureCacheMs: 0, recaches: 0, recacheTaskMs: 0 };
  /** Block-wise feature caching's store per memory set, allocated by the set's first generation that caches. */
  readonly #featureStores: (FeatureStore | null)[];
  /** The `stale` mode's store per memory set, allocated the same way. */
  readonly #staleStores: (StaleStore | null)[];
  /** Set by the first {@link close}: the lanes stop once it resolves; no generation starts after. */
  #closing: Promise<void> | null = null;
  /** Set when a closing signal aborted: generations still starting end too. */
  #closeAborted: { readonly reason: unknown } | undefined;
  /** The generations running now (for {@link liveActors}). */
  readonly #running = new Set<Generation>();
  /** The next generation's id (`session` in its trace's meta record, `GenerationSession.id`). */
  #nextSessionId = 1;

  /** @internal Use {@link createRuntime}. */
  constructor(manifest: ModelManifest, lanes: readonly Lane[], memories: readonly SharedMemory[], defaults: UncheckedInput, internals: RuntimeInternals & { startup: RuntimeStartup; maxQueuedSessions: number }) {
    this.manifest = manifest;
    this.lanes = lanes;
    this.startup = internals.startup;
    this.maxSessions = memories.length;
    this.maxQueuedSessions = internals.maxQueuedSessions;
    this.#memories = memories;
    this.#free = memories.map((_, i) => i);
    for (const lane of lanes) lane.preferred = this.#preferred;
    this.#featureStores = memories.map(() => null);
    this.#staleStores = memories.map(() => null);
    this.#inspect = internals.inspect;
    this.#runAhead = internals.runAhead !== false;
    this.#fusedForward = internals.fusedForward !== false;
    this.#defaults = defaults;
    this.#context = resolveContextFor(manifest, lanes.length);
  }

  /** Work counters since the runtime was created. */
  stats(): RuntimeStats {
    return { ...this.#stats, batchedCalls: this.lanes.reduce((total, lane) => total + lane.batches, 0) };
  }

  /**
   * Actors alive in the running generations' XState systems, summed; 0 when none runs. A gauge,
   * not a counter (so not in {@link stats}): the soak benchmark checks it stays bounded by the
   * cascade window over thousands of blocks (per generation: with k running, k times that).
   *
   * @example
   * ```ts
   * for await (const frame of runtime.generate({ seed: 1, blocks: 100, prompt: 'red ball moving left' })) {
   *   console.log(frame.block, runtime.liveActors());
   * }
   * ```
   */
  liveActors(): number {
    let total = 0;
    for (const generation of this.#running) total += generation.liveActors();
    return total;
  }

  /**
   * Generations running now, each holding a memory set (queued ones not counted): at most
   * {@link maxSessions}. A gauge, like {@link liveActors}.
   *
   * @example
   * ```ts
   * const a = runtime.generate({ seed: 1, blocks: 8, prompt: 'red ball moving left' });
   * await a.next();
   * console.log(runtime.runningSessions()); // 1
   * ```
   */
  runningSessions(): number {
    return this.#running.size;
  }

  /**
   * Bytes of every SharedArrayBuffer this runtime has allocated (the memory plan's slabs of
   * every memory set, i.e. `maxSessions` sets, and the feature cache's and `stale` mode's stores
   * of each set once a generation on it needed them), counted from the buffers themselves. It
   * should not move while generations run, however many.
   *
   * @example
   * ```ts
   * const before = runtime.sharedBytes();
   * for await (const _ of runtime.generate({ seed: 1, blocks: 100, prompt: 'red ball moving left' }));
   * console.log(runtime.sharedBytes() === before); // true
   * ```
   */
  sharedBytes(): number {
    return sharedBytesOf(this.#memories, this.#featureStores, this.#staleStores);
  }

  /**
   * Generates a video block by block and yields its frames in order as soon as each block is
   * decoded. Work starts when iteration starts; breaking out of the loop stops it.
   *
   * @example
   * ```ts
   * const runtime = await createRuntime({ lanes: 2 });
   * for await (const frame of runtime.generate({ seed: 7, blocks: 4, prompt: 'red ball moving left' }, { steps: 8 })) {
   *   console.log(frame.index, frame.width, frame.height);
   * }
   * await runtime.close();
   * ```
   */
  generate(request: GenerateRequest, options: GenerateOptions = {}): AsyncGenerator<Frame, void, undefined> {
    return this.#start(request, options, undefined, this.#nextSessionId++);
  }

  /**
   * Starts a live session: the same generation as {@link generate}, steered while it runs
   * (prompt switches, pause, resume, stop) and with backpressure from a slow consumer.
   *
   * @example
   * ```ts
   * const session = runtime.session({ seed: 1, blocks: 64, prompt: 'red ball moving left' });
   * let n = 0;
   * for await (const frame of session.frames) {
   *   if (++n === 12) await session.switchPrompt('blue ball moving up');
   * }
   * ```
   */
  session(request: GenerateRequest, options: SessionOptions = {}): GenerationSession {
    checkGenerateOptions(options, 'session');
    if (this.#closing !== null) throw new RuntimeClosedError();
    const id = this.#nextSessionId++;
    const priority = new PriorityHolder(options.priority ?? 'normal', this.#preferred);
    return liveSession(options.maxBufferedBlocks ?? DEFAULT_MAX_BUFFERED_BLOCKS, (link) => this.#start(request, options, link, id, priority), id, (level) => priority.set(level));
  }

  /** Runs one generation; `id` numbers it among this runtime's generations (from 1, in call order). */
  async *#start(request: GenerateRequest, options: GenerateOptions, link: Parameters<Parameters<typeof liveSession>[1]>[0] | undefined, id: number, priority?: PriorityHolder): AsyncGenerator<Frame, void, undefined> {
    let generation: Generation | null = null;
    let memory: number | null = null;
    let done!: () => void;
    const active = new Promise<void>((resolve) => (done = resolve));
    this.#active.add(active);
    try {
      // Everything that can reject the request happens before a memory set is taken, and
      // (like every refusal of `generate`) when iteration starts, not at the call.
      checkGenerateOptions(options, link ? 'session' : 'generate');
      const context = options.allowUnknownWords === true ? resolveContextFor(this.manifest, this.lanes.length, { allowUnknownWords: true }) : this.#context;
      const resolved = resolveGeneration(request, [this.#defaults, settingsOf(options)], context);
      if (this.#closing !== null) throw new RuntimeClosedError();
      const { signal } = options;
      if (signal?.aborted) throw new GenerationAbortedError(signal.reason);
      // A free set now, or a place in the bounded queue, or RuntimeBusyError; an abort while
      // queued leaves the queue: this generation never runs.
      memory = await this.#acquire(signal);
      // Closing with its signal aborted while this one took its set: it ends like the others.
      if (this.#closeAborted !== undefined) throw new GenerationAbortedError(this.#closeAborted.reason);
      const set = memory;
      priority?.bind(set);
      const held = performance.now();
      const host = {
        manifest: this.manifest,
        lanes: this.lanes,
        memory: this.#memories[set] as SharedMemory,
        memoryIndex: set,
        sessionId: id,
        inspect: this.#inspect,
        // Cross-session batching joins queued one-block ticks: a block's steps in one task would leave none to join.
        runAhead: this.#runAhead && !this.lanes.some((lane) => lane.batching),
        fusedForward: this.#fusedForward,
        pickLane: (home?: number) => this.#pickLane(home),
        count: (update: Partial<Omit<RuntimeStats, 'batchedCalls'>>) => {
          for (const [key, value] of Object.entries(update)) this.#stats[key as keyof Omit<RuntimeStats, 'batchedCalls'>] += value;
        },
        featureStore: () => (this.#featureStores[set] ??= allocateFeatureCache(this.manifest, planMemory(this.manifest, { featureCache: true }))),
        staleStore: () => (this.#staleStores[set] ??= allocateStale(this.manifest, planMemory(this.manifest, { stale: true }))),
      };
      generation = new Generation(host, resolved, options, link);
      this.#running.add(generation);
      try {
        yield* generation.run();
      } finally {
        const ms = performance.now() - held;
        this.#heldMs = { mean: (this.#heldMs.mean * this.#heldMs.count + ms) / (this.#heldMs.count + 1), count: this.#heldMs.count + 1 };
      }
    } finally {
      if (generation !== null) this.#running.delete(generation);
      // A session refused before it ran: its controls fail instead of waiting for it forever.
      else link?.detach();
      // The generation has ended and its lane tasks have settled (Generation.run waits for
      // them): the set goes to the longest waiting generation, or back to the pool.
      priority?.unbind();
      if (memory !== null) this.#release(memory);
      this.#active.delete(active);
      done();
    }
  }

  /**
   * A memory set for a generation: a free one at once; else a place in the queue when it has
   * room (resolves when a set is released to it); else {@link RuntimeBusyError}.
   *
   * @throws {RuntimeBusyError} when {@link maxSessions} run and {@link maxQueuedSessions} wait.
   * @throws {GenerationAbortedError} when `signal` aborts while queued (the waiter is removed).
   */
  #acquire(signal: AbortSignal | undefined): Promise<number> {
    const free = this.#free.shift();
    if (free !== undefined) return Promise.resolve(free);
    if (this.#waiters.length >= this.maxQueuedSessions) {
      const mean = this.#heldMs.count === 0 ? DEFAULT_RETRY_AFTER_MS : this.#heldMs.mean;
      // The queue ahead drains maxSessions at a time.
      const retryAfterMs = Math.max(1, Math.ceil((mean * Math.ceil((this.#waiters.length + 1) / this.maxSessions))));
      return Promise.reject(new RuntimeBusyError(this.maxSessions, this.#waiters.length, retryAfterMs));
    }
    return new Promise<number>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new GenerationAbortedError(signal?.reason));
      };
      const waiter: Waiter = {
        grant: (memory) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(memory);
        },
        refuse: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Gives a set back: to the first waiting generation, or to the pool. */
  #release(memory: number): void {
    const next = this.#waiters.shift();
    if (next) return next.grant(memory);
    this.#free.push(memory);
    this.#free.sort((a, b) => a - b);
  }

  /**
   * The least busy lane in service, ties to the last (a `lanes` tick gives the lowest ids the
   * larger shares, and lane 0 the cache store). With `home` (a session's memory set), ties
   * go to that session's own lane (counted from the last, so that set 0 keeps the last lane):
   * concurrent sessions then keep to their lanes while the load is even, so each lane serves its
   * sessions in turn and keeps their K/V gathers.
   */
  #pickLane(home?: number): Lane {
    const lanes = inService(this.lanes);
    let best = lanes[lanes.length - 1] as Lane;
    for (let i = lanes.length - 1; i >= 0; i--) if ((lanes[i] as Lane).pending < best.pending) best = lanes[i] as Lane;
    if (home === undefined) return best;
    const own = lanes[lanes.length - 1 - (home % lanes.length)] as Lane;
    return own.pending === best.pending ? own : best;
  }

  /**
   * Stops the lanes and frees their sessions, once every generation started before has ended
   * (running ones and queued ones alike); none starts after (`RuntimeClosedError`). Every call
   * returns the same promise. With `signal`, when it aborts (at once if it already has), the
   * generations still running or queued end with a `GenerationAbortedError`, as an abort of
   * their own signal would: a service can wait for its sessions a while, then stop them.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void runtime.close({ signal: AbortSignal.timeout(10_000) }));
   * ```
   */
  close(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidOptionError('signal', 'an AbortSignal', signal);
    if (signal) {
      const stop = () => this.#abortAll(signal.reason);
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    }
    this.#closing ??= (async () => {
      while (this.#active.size > 0) await Promise.allSettled([...this.#active]);
      await Promise.all(this.lanes.map((lane) => lane.close()));
    })();
    return this.#closing;
  }

  /** Ends every running generation and refuses every queued one, each with a `GenerationAbortedError`. */
  #abortAll(reason: unknown): void {
    this.#closeAborted ??= { reason };
    for (const generation of this.#running) generation.abort(reason);
    for (const waiter of this.#waiters.splice(0)) waiter.refuse(new GenerationAbortedError(reason));
  }

  /**
   * {@link close}, for `await using`: the runtime closes when the block that holds it ends.
   *
   * @example
   * ```ts
   * await using runtime = await createRuntime();
   * for await (const frame of runtime.generate({ seed: 1, blocks: 4, prompt: 'red ball moving left' })) show(frame);
   * // closed here, even if the loop threw
   * ```
   */
  [ASYNC_DISPOSE](): Promise<void> {
    return this.close();
  }
}

/**
 * Loads a model package and starts its lanes (one worker thread and ONNX session set each).
 * Options are checked before any lane starts.
 *
 * @example
 * ```ts
 * import { createRuntime } from 'block-cascade';
 * const runtime = await createRuntime({ lanes: [{ device: 'cpu', threads: 1 }, { device: 'cpu', threads: 1 }] });
 * ```
 */
export async function createRuntime(options: RuntimeOptions & RuntimeInternals = {}): Promise<Runtime> {
  const started = performance.now();
  checkRuntimeOptions(options);
  const laneOptions = resolveLanes(options.lanes, maxLanes(availableParallelism(), process.env[MAX_LANES_ENV]));
  const defaults = settingsOf(options);
  const onnxLogLevel = resolveOnnxLogLevel(options.onnxLogLevel);
  applyOnnxLogLevel(onnxLogLevel);
  const pkg = await loadModelPackage(options.model ?? defaultModelDir());
  const m = pkg.manifest;
  const onLoad: (progress: LoadProgress) => void = options.onLoad ?? (() => {});
  // The loader has found and checked each file by now; lanes load them into sessions next.
  const checked = [['manifest', pkg.paths.manifest], ['textEncoder', pkg.paths.textEncoder], ['denoiser', pkg.paths.denoiser], ['vaeDecoder', pkg.paths.vaeDecoder]] as const;
  checked.forEach(([file, path], i) => onLoad({ stage: 'file', file, path, done: i + 1, total: checked.length }));
  const settings = resolveSettings(defaults, resolveContextFor(m, laneOptions.length)); // fail before any lane starts
  // One memory set per generation that may run at once (docs/serving.md).
  const maxSessions = options.maxSessions ?? defaultMaxSessions(laneOptions.length, planMemory(m), totalmem());
  const memories = Array.from({ length: maxSessions }, () => allocateShared(m, pkg.paths.manifest, maxSessions));
  const files = { denoiser: pkg.paths.denoiser, textEncoder: pkg.paths.textEncoder, vaeDecoder: pkg.paths.vaeDecoder, layered: pkg.paths.layered };
  const totalThreads = laneOptions.reduce((sum, lane) => sum + lane.threads, 0);
  const allowSpinning = totalThreads <= availableParallelism();
  const lanes = laneOptions.map((lane, i) => new Lane(asLaneId(i), { manifest: m, files, memories, laneId: i, lane, allowSpinning, onnxLogLevel, ...optional('faults', faultsOfLane(i, options.faults)), ...optional('fusedForward', options.fusedForward), ...optional('reuseRuns', options.reuseRuns), ...optional('groupKeys', options.groupKeys) }));
  for (const lane of lanes) lane.batching = options.batchSessions ?? false;
  const warm = options.warmUp ?? true;
  let warmUpMs: number;
  try {
    // The layered graphs are loaded (and warmed) now only when the runtime's own settings run
    // them; otherwise the first tick that needs them loads them.
    const layered = warm && executorKind(settings.exec).needs.layered;
    let lanesReady = 0;
    const ready = await Promise.all(
      lanes.map(async (lane, i) => {
        const ms = await lane.ready({ warm, layered, inFlightBlocks: MAX_IN_FLIGHT_BLOCKS });
        onLoad({ stage: 'lane', lane: i, done: ++lanesReady, total: lanes.length });
        return ms;
      }),
    );
    warmUpMs = Math.max(...ready);
  } catch (error) {
    await Promise.allSettled(lanes.map((lane) => lane.close()));
    throw error;
  }
  return new Runtime(m, lanes, memories, defaults, { ...options, maxQueuedSessions: options.maxQueuedSessions ?? DEFAULT_MAX_QUEUED_SESSIONS, startup: { createMs: performance.now() - started, warmUpMs } });
}

/**
 * The shared slabs of a model's memory plan.
 *
 * @throws {ModelPackageError} naming the manifest and the field behind the largest slab when the
 *   plan cannot be allocated (e.g. `kv.windowFrames: 1e9`), instead of a bare RangeError.
 */
function allocateShared(m: ModelManifest, manifestFile: string, sets = 1): SharedMemory {
  const plan = planMemory(m);
  try {
    return allocateMemory(m, plan);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    const largest = plan.slabs.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const kv = largest.name === 'kv';
    throw modelPackageError(
      'E_MODEL_MANIFEST_INVALID',
      manifestFile,
      kv ? 'kv.windowFrames' : undefined,
      `${kv ? 'field "kv.windowFrames": ' : ''}the memory plan needs ${plan.totalBytes} bytes of shared memory (the largest slab, ${largest.name}: ${largest.bytes} bytes${kv ? `, for kv.sinkFrames + kv.windowFrames = ${m.kv.sinkFrames + m.kv.windowFrames} frames` : ''}), which cannot be allocated${sets > 1 ? ` (${sets} sets of it for maxSessions ${sets})` : ''} (${err.message})`,
      { cause: err },
    );
  }
}
