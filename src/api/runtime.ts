/**
 * The public runtime: a model loaded on a set of lanes with its shared memory. It starts
 * generations ({@link Generation}), one at a time, and resolves each one's options once.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { asLaneId } from '../core/domain.js';
import type { Frame, GenerateOptions, GenerateRequest, LoadProgress, RuntimeOptions, RuntimeStartup, RuntimeStats } from '../core/api-types.js';
import { GenerationAbortedError } from '../core/errors.js';
import type { ModelManifest } from '../core/manifest-types.js';
import { checkGenerateOptions, checkRuntimeOptions, MAX_LANES_ENV, maxLanes, resolveGeneration, resolveLanes, resolveSettings, type ResolveContext, type UncheckedInput } from '../core/options.js';
import { ASYNC_DISPOSE } from '../core/dispose.js';
import type { GenerationSession, SessionOptions } from '../core/session-types.js';
import { faultsOfLane, type LaneFault } from '../engine/lanes/faults.js';
import { applyOnnxLogLevel, resolveOnnxLogLevel } from '../engine/lanes/execution-provider.js';
import { executorKind } from '../engine/executors/registry.js';
import { inService, Lane } from '../engine/lanes/lane.js';
import { allocateFeatureCache, allocateMemory, allocateStale, MAX_IN_FLIGHT_BLOCKS, planMemory, type SharedMemory } from '../engine/memory/memory-plan.js';
import type { FeatureStore } from '../engine/lanes/feature-store.js';
import type { StaleStore } from '../engine/lanes/stale-store.js';
import { sharedBytesOf } from '../engine/memory/shared-bytes.js';
import { loadModelPackage } from '../engine/model/loader.js';
import { modelPackageError } from '../engine/model/errors.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { Generation, type InspectObserver } from './generation.js';
import { DEFAULT_MAX_BUFFERED_BLOCKS, liveSession } from './live-session.js';
import { resolveContextFor } from './resolve-context.js';

/** Options of {@link createRuntime} beyond the public ones. */
export interface RuntimeInternals {
  /** An XState inspection observer, called for every actor event (e.g. Stately's inspector). */
  readonly inspect?: InspectObserver;
  /** Crash-recovery tests: lane workers kill themselves at these tasks (`engine/lanes/faults.ts`). */
  readonly faults?: readonly LaneFault[];
}

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } => (value === undefined ? {} : ({ [key]: value } as { [P in K]?: V }));

const settingsOf = (o: { readonly cascade?: UncheckedInput | undefined; readonly steps?: number | undefined; readonly featureCache?: unknown }): UncheckedInput => ({
  ...o.cascade,
  ...(o.steps === undefined ? {} : { steps: o.steps }),
  ...(o.featureCache === undefined ? {} : { featureCache: o.featureCache }),
});

/**
 * A loaded model on a set of lanes. Create it with {@link createRuntime}; one generation runs
 * at a time (a second `generate` waits for the first to finish).
 */
export class Runtime {
  readonly manifest: ModelManifest;
  readonly lanes: readonly Lane[];
  /** How long `createRuntime` took, and its warm-up. */
  readonly startup: RuntimeStartup;
  readonly #memory: SharedMemory;
  readonly #inspect: InspectObserver | undefined;
  /** The runtime's settings as given (checked at the door); a generation's own override them field by field. */
  readonly #defaults: UncheckedInput;
  readonly #context: ResolveContext;
  #stats: { -readonly [K in keyof RuntimeStats]: RuntimeStats[K] } = { ticks: 0, forwards: 0, forwardRunMs: 0, forwardWorkerMs: 0, forwardTaskMs: 0, exchangeWaitMs: 0, reusedForwards: 0, featureCacheMs: 0, recaches: 0, recacheTaskMs: 0 };
  /** Block-wise feature caching's store, allocated by the first generation that caches. */
  #featureStore: FeatureStore | null = null;
  #staleStore: StaleStore | null = null;
  #idle: Promise<void> = Promise.resolve();
  #closed = false;
  /** The generation running now, if any (for {@link liveActors}). */
  #running: Generation | null = null;

  /** @internal Use {@link createRuntime}. */
  constructor(manifest: ModelManifest, lanes: readonly Lane[], memory: SharedMemory, defaults: UncheckedInput, internals: RuntimeInternals & { startup: RuntimeStartup }) {
    this.manifest = manifest;
    this.lanes = lanes;
    this.startup = internals.startup;
    this.#memory = memory;
    this.#inspect = internals.inspect;
    this.#defaults = defaults;
    this.#context = resolveContextFor(manifest, lanes.length);
  }

  /** Work counters since the runtime was created. */
  stats(): RuntimeStats {
    return { ...this.#stats };
  }

  /**
   * Actors alive in the running generation's XState system; 0 between generations. A gauge,
   * not a counter (so not in {@link stats}): the soak benchmark checks it stays bounded by the
   * cascade window over thousands of blocks.
   *
   * @example
   * ```ts
   * for await (const frame of runtime.generate({ seed: 1, blocks: 100, prompt: 'red ball moving left' })) {
   *   console.log(frame.block, runtime.liveActors());
   * }
   * ```
   */
  liveActors(): number {
    return this.#running?.liveActors() ?? 0;
  }

  /**
   * Bytes of every SharedArrayBuffer this runtime has allocated (the memory plan's slabs, and
   * the feature cache's and `stale` mode's stores once a generation needed them), counted from
   * the buffers themselves. It should not move while generations run.
   *
   * @example
   * ```ts
   * const before = runtime.sharedBytes();
   * for await (const _ of runtime.generate({ seed: 1, blocks: 100, prompt: 'red ball moving left' }));
   * console.log(runtime.sharedBytes() === before); // true
   * ```
   */
  sharedBytes(): number {
    return sharedBytesOf(this.#memory, this.#featureStore, this.#staleStore);
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
    return this.#start(request, options);
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
    return liveSession(options.maxBufferedBlocks ?? DEFAULT_MAX_BUFFERED_BLOCKS, (link) => this.#start(request, options, link));
  }

  async *#start(request: GenerateRequest, options: GenerateOptions, link?: Parameters<Parameters<typeof liveSession>[1]>[0]): AsyncGenerator<Frame, void, undefined> {
    // Everything that can reject the request happens before the generation lock is taken,
    // and (like every refusal of `generate`) when iteration starts, not at the call.
    checkGenerateOptions(options, link ? 'session' : 'generate');
    const context = options.allowUnknownWords === true ? resolveContextFor(this.manifest, this.lanes.length, { allowUnknownWords: true }) : this.#context;
    const resolved = resolveGeneration(request, [this.#defaults, settingsOf(options)], context);
    if (this.#closed) throw new Error('the runtime is closed');
    const { signal } = options;
    if (signal?.aborted) throw new GenerationAbortedError(signal.reason);
    const previous = this.#idle;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // The lock passes on only when the generation before has ended, even if this one is
    // aborted while it waits (and so releases at once).
    this.#idle = previous.then(() => mine);
    let generation: Generation | null = null;
    try {
      // An abort while waiting behind another generation ends the wait: this one never runs.
      await waitOrAbort(previous, signal);
      const host = {
        manifest: this.manifest,
        lanes: this.lanes,
        memory: this.#memory,
        inspect: this.#inspect,
        pickLane: () => this.#pickLane(),
        count: (update: Partial<RuntimeStats>) => {
          for (const [key, value] of Object.entries(update)) this.#stats[key as keyof RuntimeStats] += value;
        },
        featureStore: () => (this.#featureStore ??= allocateFeatureCache(this.manifest, planMemory(this.manifest, { featureCache: true }))),
        staleStore: () => (this.#staleStore ??= allocateStale(this.manifest, planMemory(this.manifest, { stale: true }))),
      };
      generation = new Generation(host, resolved, options, link);
      this.#running = generation;
      yield* generation.run();
    } finally {
      // A generation aborted while it waited never ran: it must not clear the running one.
      if (this.#running === generation) this.#running = null;
      release();
    }
  }

  /**
   * The lane with the fewest unfinished tasks; ties go to the highest id, because a `lanes` tick
   * gives the lowest ids the larger shares (and lane 0 the cache store).
   */
  #pickLane(): Lane {
    const lanes = inService(this.lanes);
    let best = lanes[lanes.length - 1] as Lane;
    for (let i = lanes.length - 1; i >= 0; i--) if ((lanes[i] as Lane).pending < best.pending) best = lanes[i] as Lane;
    return best;
  }

  /** Stops the lanes and frees their sessions. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#idle;
    await Promise.all(this.lanes.map((lane) => lane.close()));
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
  const memory = allocateShared(m, pkg.paths.manifest);
  const files = { denoiser: pkg.paths.denoiser, textEncoder: pkg.paths.textEncoder, vaeDecoder: pkg.paths.vaeDecoder, layered: pkg.paths.layered };
  const totalThreads = laneOptions.reduce((sum, lane) => sum + lane.threads, 0);
  const allowSpinning = totalThreads <= availableParallelism();
  const lanes = laneOptions.map((lane, i) => new Lane(asLaneId(i), { manifest: m, files, ...memory, laneId: i, lane, allowSpinning, onnxLogLevel, ...optional('faults', faultsOfLane(i, options.faults)) }));
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
  return new Runtime(m, lanes, memory, defaults, { ...options, startup: { createMs: performance.now() - started, warmUpMs } });
}

/**
 * Waits for `previous`, or rejects with {@link GenerationAbortedError} as soon as `signal` aborts.
 *
 * @throws {GenerationAbortedError} when the signal aborts first (or had aborted).
 */
function waitOrAbort(previous: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return previous;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(new GenerationAbortedError(signal.reason));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    void previous.then(() => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) onAbort();
      else resolve();
    });
  });
}

/**
 * The shared slabs of a model's memory plan.
 *
 * @throws {ModelPackageError} naming the manifest and the field behind the largest slab when the
 *   plan cannot be allocated (e.g. `kv.windowFrames: 1e9`), instead of a bare RangeError.
 */
function allocateShared(m: ModelManifest, manifestFile: string): SharedMemory {
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
      `${kv ? 'field "kv.windowFrames": ' : ''}the memory plan needs ${plan.totalBytes} bytes of shared memory (the largest slab, ${largest.name}: ${largest.bytes} bytes${kv ? `, for kv.sinkFrames + kv.windowFrames = ${m.kv.sinkFrames + m.kv.windowFrames} frames` : ''}), which cannot be allocated (${err.message})`,
      { cause: err },
    );
  }
}
