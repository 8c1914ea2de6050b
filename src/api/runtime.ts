/**
 * The public runtime: lanes, shared slabs and the actor system behind one `generate` call.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createActor, type InspectionEvent, type Observer } from 'xstate';
import { asLaneId, STAGES, type LaneOptions } from '../core/domain.js';
import { reportingBlockMachine } from '../actors/block.js';
import { capacityFor } from '../actors/kv-pool.js';
import { laneProxies } from '../actors/lane-proxy.js';
import { supervisorMachine, type SupervisorEvent } from '../actors/supervisor.js';
import { TickBarrier } from '../actors/tick-barrier.js';
import { lagOf, resolveCascade, type CascadeOptions } from '../core/cascade-options.js';
import { allocateExchange } from '../engine/lanes/exchange.js';
import { JointExecutor } from '../engine/executors/joint.js';
import { LanesExecutor } from '../engine/executors/lanes.js';
import type { TickExecutor } from '../core/tick.js';
import type { Frame, GenerateOptions, GenerateRequest, PromptSwitch, RuntimeOptions, RuntimeStats } from '../core/api-types.js';
import { GenerationAbortedError, InvalidOptionError } from '../core/errors.js';
import { liveControls, type AdmissionFlow } from './live-controls.js';
import { OrderedFrameQueue } from './frame-queue.js';
import { allocateKvSlabs, kvLayoutFor } from '../engine/kv/kv-slabs.js';
import { Lane } from '../engine/lanes/lane.js';
import type { LaneWorkerData } from '../engine/lanes/worker-data.js';
import type { ModelManifest } from '../core/manifest-types.js';
import { modelPackageError } from '../engine/model/errors.js';
import { loadModelPackage } from '../engine/model/loader.js';
import { tokenizePrompt } from '../engine/model/tokenizer.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { buildSchedule, type Schedule } from '../core/sampler.js';
import type { GenerationSession, LiveControls, SessionEvent, SessionLink, SessionOptions } from '../core/session-types.js';
import { allocateSlotSlab } from '../engine/memory/slot-slab.js';
import { TRACE_VERSION, type EndRecord } from '../core/trace-records.js';
import { Tracer } from '../trace/tracer.js';

/** Blocks that may hold a latent slot at once: five in flight at P4, plus decodes behind them. */
const LATENT_SLOTS = 8;
/** The most blocks a cascade keeps in flight (four denoising, one caching). */
const MAX_IN_FLIGHT_BLOCKS = 5;

function laneOptionsOf(lanes: RuntimeOptions['lanes']): readonly LaneOptions[] {
  if (lanes === undefined) return [{ device: 'cpu', threads: 1 }];
  if (typeof lanes === 'number') {
    if (!Number.isInteger(lanes) || lanes < 1) throw new InvalidOptionError('lanes', 'a positive integer', lanes);
    return Array.from({ length: lanes }, () => ({ device: 'cpu', threads: 1 }) as const);
  }
  if (lanes.length === 0) throw new InvalidOptionError('lanes', 'at least one lane', lanes);
  lanes.forEach((lane, i) => {
    if (!/^(cpu|cuda:\d+)$/.test(lane.device)) throw new InvalidOptionError(`lanes[${i}].device`, '"cpu" or "cuda:N"', lane.device);
    if (!Number.isInteger(lane.threads) || lane.threads < 1) throw new InvalidOptionError(`lanes[${i}].threads`, 'a positive integer', lane.threads);
  });
  return lanes;
}

function validateRequest(request: GenerateRequest): void {
  if (!Number.isSafeInteger(request.seed) || request.seed < 0) throw new InvalidOptionError('seed', 'a non-negative safe integer', request.seed);
  if (!Number.isInteger(request.blocks) || request.blocks < 1) throw new InvalidOptionError('blocks', 'a positive integer', request.blocks);
  if (typeof request.prompt !== 'string') throw new InvalidOptionError('prompt', 'a string', request.prompt);
  const switches = request.switches ?? [];
  if (!Array.isArray(switches)) throw new InvalidOptionError('switches', 'an array of { atBlock, prompt }', switches);
  if (switches.length > MAX_PROMPT_SWITCHES) throw new InvalidOptionError('switches', `at most ${MAX_PROMPT_SWITCHES} prompt switches`, switches.length);
  switches.forEach((s: PromptSwitch, i) => {
    const after = i === 0 ? 0 : (switches[i - 1] as PromptSwitch).atBlock;
    if (!Number.isInteger(s.atBlock) || s.atBlock <= after || s.atBlock >= request.blocks) {
      throw new InvalidOptionError(`switches[${i}].atBlock`, `an integer in (${after}, ${request.blocks}) (after the previous switch, before the end)`, s.atBlock);
    }
    if (typeof s.prompt !== 'string') throw new InvalidOptionError(`switches[${i}].prompt`, 'a string', s.prompt);
  });
}

/** The block machine's states in the order a block passes them (for traces). */
const BLOCK_STATES = ['queued', ...STAGES, 'done'] as const;

/** One inspection observer that feeds the user's and the tracer's. */
function combineInspectors(
  user: RuntimeInternals['inspect'],
  tracer: ((event: InspectionEvent) => void) | undefined,
): (event: InspectionEvent) => void {
  const deliver = typeof user === 'function' ? user : user?.next?.bind(user);
  return (event) => {
    deliver?.(event);
    tracer?.(event);
  };
}

/** Scheduled prompt switches per generation: the context slab holds one slot per prompt. */
export const MAX_PROMPT_SWITCHES = 7;

/** The slabs and files every lane worker shares. */
type SharedLaneData = Omit<LaneWorkerData, 'laneId' | 'lane' | 'allowSpinning'>;

/** Options of {@link createRuntime} beyond the public ones. */
export interface RuntimeInternals {
  /** An XState inspection observer, called for every actor event (e.g. Stately's inspector). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

/**
 * A loaded model on a set of lanes. Create it with {@link createRuntime}; one generation runs
 * at a time (a second `generate` waits for the first to finish).
 */
export class Runtime {
  readonly manifest: ModelManifest;
  readonly lanes: readonly Lane[];
  readonly #data: SharedLaneData;
  readonly #inspect: RuntimeInternals['inspect'];
  /** The runtime's cascade settings as given (checked), so a generation's own override them field by field. */
  readonly #cascade: Partial<CascadeOptions>;
  #stats = { ticks: 0, forwards: 0, forwardRunMs: 0, forwardWorkerMs: 0, forwardTaskMs: 0, exchangeWaitMs: 0, recaches: 0, recacheTaskMs: 0 };
  #idle: Promise<void> = Promise.resolve();
  #closed = false;

  /** @internal Use {@link createRuntime}. */
  constructor(manifest: ModelManifest, lanes: readonly Lane[], data: SharedLaneData, internals: RuntimeInternals & Pick<RuntimeOptions, 'cascade'>) {
    this.manifest = manifest;
    this.lanes = lanes;
    this.#data = data;
    this.#inspect = internals.inspect;
    resolveCascade(internals.cascade, lanes.length);
    this.#cascade = internals.cascade ?? {};
  }

  /** Work counters since the runtime was created. */
  stats(): RuntimeStats {
    return { ...this.#stats };
  }

  /**
   * Generates a video block by block and yields its frames in order as soon as each block is
   * decoded. Work starts when iteration starts; breaking out of the loop stops it.
   *
   * @example
   * ```ts
   * const runtime = await createRuntime({ lanes: 2 });
   * for await (const frame of runtime.generate({ seed: 7, blocks: 4, prompt: 'red ball moving left' })) {
   *   console.log(frame.index, frame.width, frame.height);
   * }
   * await runtime.close();
   * ```
   */
  generate(request: GenerateRequest, options: GenerateOptions = {}): AsyncGenerator<Frame, void, undefined> {
    return this.#run(request, options);
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
    const max = options.maxBufferedBlocks ?? 4;
    if (!Number.isInteger(max) || max < 1) throw new InvalidOptionError('maxBufferedBlocks', 'a positive integer', max);
    const listeners = new Set<(event: SessionEvent) => void>();
    let controls: LiveControls | null = null;
    let ended = false;
    let waiting: { resolve: (c: LiveControls) => void; reject: (e: unknown) => void }[] = [];
    const link: SessionLink = {
      maxBufferedBlocks: max,
      attach: (c) => {
        controls = c;
        for (const w of waiting) w.resolve(c);
        waiting = [];
      },
      detach: () => {
        controls = null;
        ended = true;
        for (const w of waiting) w.reject(new Error('the session has ended'));
        waiting = [];
      },
      emit: (event) => listeners.forEach((listener) => listener(event)),
    };
    const live = (): Promise<LiveControls> => {
      if (controls) return Promise.resolve(controls);
      if (ended) return Promise.reject(new Error('the session has ended'));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    };
    const frames = this.#run(request, options, link);
    return {
      frames,
      switchPrompt: async (prompt) => {
        if (typeof prompt !== 'string') throw new InvalidOptionError('prompt', 'a string', prompt);
        return (await live()).switchPrompt(prompt);
      },
      pause: () => void live().then((c) => c.pause(), () => {}),
      resume: () => void live().then((c) => c.resume(), () => {}),
      stop: () => void live().then((c) => c.stop(), () => {}),
      on: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
  }

  async *#run(request: GenerateRequest, options: GenerateOptions, link?: SessionLink): AsyncGenerator<Frame, void, undefined> {
    validateRequest(request);
    if (this.#closed) throw new Error('the runtime is closed');
    // Everything that can reject the request happens before the generation lock is taken.
    const cascade = resolveCascade({ ...this.#cascade, ...options.cascade }, this.lanes.length, this.manifest.kv.recache);
    const lag = lagOf(cascade.parallelism);
    const schedule = buildSchedule(this.manifest.sampler);
    // Context slot i holds prompt i of the timeline: the initial prompt, then each switch.
    const timeline = [{ atBlock: 0, prompt: request.prompt }, ...(request.switches ?? [])];
    const promptTokens = timeline.map((p) => Array.from(tokenizePrompt(p.prompt, this.manifest.text), Number));
    const { signal, onProgress } = options;
    signal?.throwIfAborted();
    const previous = this.#idle;
    let release!: () => void;
    this.#idle = new Promise((resolve) => (release = resolve));
    await previous;

    const m = this.manifest;
    // Backpressure: admission pauses while the consumer leaves too many blocks unread.
    const bufferLimit = (link?.maxBufferedBlocks ?? Number.POSITIVE_INFINITY) * m.framesPerBlock;
    const flow: AdmissionFlow = { user: false, backpressure: false };
    let send: (event: SupervisorEvent) => void = () => {};
    const queue: OrderedFrameQueue = new OrderedFrameQueue({ framesPerBlock: m.framesPerBlock, width: m.video.width, height: m.video.height }, () => {
      if (flow.backpressure && queue.bufferedFrames < bufferLimit) {
        flow.backpressure = false;
        if (!flow.user) {
          send({ type: 'supervisor.resume' });
          link?.emit({ type: 'resumed' });
        }
      }
    });
    const start = performance.now();
    let blocksDone = 0;
    const tracer = options.trace ? new Tracer(options.trace, lag, start) : null;
    tracer?.record({
      kind: 'meta',
      version: TRACE_VERSION,
      startedAt: Date.now(),
      model: m.name,
      lanes: this.lanes.length,
      ...cascade,
      seed: request.seed,
      blocks: request.blocks,
      framesPerBlock: m.framesPerBlock,
      kvCapacity: this.#data.kv.layout.capacitySlots,
      blockStates: BLOCK_STATES,
    });
    for (const s of request.switches ?? []) tracer?.record({ kind: 'switch', prompt: s.prompt, fromBlock: s.atBlock, live: false });
    const unobserve = tracer ? this.lanes.map((lane) => lane.observe(tracer.lane)) : [];
    const barrier = this.#barrierFor(request.blocks, cascade, schedule, link, tracer);
    const proxies = laneProxies(barrier, {
      encodePrompts: async (contextSlots) => {
        for (const contextSlot of contextSlots) {
          await this.#pickLane().encode({ kind: 'encode', tokens: promptTokens[contextSlot] as number[], contextSlot });
        }
      },
      decode: async (block, latentSlot) => {
        const { rgb } = await this.#pickLane().decode({ kind: 'decode', block, latentSlot });
        queue.push(block, rgb);
        tracer?.record({ kind: 'frame', block, firstFrame: block * m.framesPerBlock, frames: m.framesPerBlock });
        blocksDone++;
        const elapsedMs = performance.now() - start;
        link?.emit({ type: 'block', block, elapsedMs, bufferedBlocks: queue.bufferedFrames / m.framesPerBlock });
        if (!flow.backpressure && queue.bufferedFrames >= bufferLimit) {
          flow.backpressure = true;
          send({ type: 'supervisor.pause' });
          if (!flow.user) link?.emit({ type: 'paused', reason: 'backpressure' });
        }
        const framesDone = blocksDone * m.framesPerBlock;
        onProgress?.({ blocksDone, blocksTotal: request.blocks, framesDone, elapsedMs, fps: (framesDone * 1000) / elapsedMs });
      },
    });
    const machine = supervisorMachine.provide({
      actors: {
        block: reportingBlockMachine.provide({ actors: { forward: proxies.forward } }),
        encodePrompt: proxies.encodePrompt,
        decode: proxies.decode,
      },
    });
    const actor = createActor(machine, {
      input: {
        seed: request.seed,
        blocks: request.blocks,
        lag,
        framesPerBlock: m.framesPerBlock,
        latentSlots: this.#data.latents.slots,
        prompts: timeline.map((p, contextSlot) => ({ fromBlock: p.atBlock, contextSlot })),
        kv: { capacity: this.#data.kv.layout.capacitySlots, sinkFrames: m.kv.sinkFrames, windowFrames: m.kv.windowFrames },
      },
      ...(this.#inspect || tracer ? { inspect: combineInspectors(this.#inspect, tracer?.inspect) } : {}),
    });
    actor.subscribe({
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
    const onAbort = () => queue.fail(new GenerationAbortedError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    send = (event) => actor.send(event);
    let stopped = false;
    link?.attach(
      liveControls({
        actor,
        flow,
        link,
        text: m.text,
        contextSlots: this.#data.contexts.slots,
        encode: (tokens, contextSlot) => this.#pickLane().encode({ kind: 'encode', tokens, contextSlot }),
        onSwitch: (prompt, fromBlock) => tracer?.record({ kind: 'switch', prompt, fromBlock, live: true }),
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
      link?.emit({ type: 'end', blocks: blocksDone, stopped });
      signal?.removeEventListener('abort', onAbort);
      actor.stop();
      barrier.stop();
      // Tasks already on a lane still write into the slabs: let them land before the next
      // generation reuses the slots.
      await Promise.all(this.lanes.map((lane) => lane.settled()));
      release();
    }
  }

  /** The tick barrier of one generation, adding its ticks and re-caches to the runtime's stats. */
  #barrierFor(blocks: number, cascade: CascadeOptions, schedule: Schedule, link: SessionLink | undefined, tracer: Tracer | null): TickBarrier {
    return new TickBarrier({
      lag: lagOf(cascade.parallelism),
      blocks,
      attention: cascade.attention,
      executor: this.#executorFor(cascade, schedule),
      onTick: (_tick, _members, timing) => {
        this.#stats.ticks++;
        this.#stats.forwards += timing.forwards;
        this.#stats.exchangeWaitMs += timing.exchangeWaitMs ?? 0;
        this.#stats.forwardRunMs += timing.runMs;
        this.#stats.forwardWorkerMs += timing.workerMs;
        this.#stats.forwardTaskMs += timing.taskMs;
      },
      recache: cascade.recache === 'on',
      onRecache: (plan, timing) => {
        this.#stats.recaches++;
        this.#stats.recacheTaskMs += timing.taskMs;
        link?.emit({ type: 'recache', beforeBlock: plan.beforeBlock, frames: plan.slots.length, ms: timing.taskMs });
        tracer?.record({ kind: 'recache', beforeBlock: plan.beforeBlock, frames: plan.slots.length, ms: timing.taskMs });
      },
    });
  }

  #executorFor(cascade: CascadeOptions, schedule: Schedule): TickExecutor {
    if (cascade.exec === 'lanes') return new LanesExecutor(schedule, this.lanes, this.#data.exchange, this.manifest.framesPerBlock);
    return new JointExecutor(schedule, () => this.#pickLane());
  }

  /**
   * The lane with the fewest unfinished tasks; ties go to the highest id, because a `lanes` tick
   * gives the lowest ids the larger shares (and lane 0 the cache store).
   */
  #pickLane(): Lane {
    let best = this.lanes[this.lanes.length - 1] as Lane;
    for (let i = this.lanes.length - 1; i >= 0; i--) if ((this.lanes[i] as Lane).pending < best.pending) best = this.lanes[i] as Lane;
    return best;
  }

  /** Stops the lanes and frees their sessions. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#idle;
    await Promise.all(this.lanes.map((lane) => lane.close()));
  }
}

/** A block failed; the message says which block, lane and stage. */
export class GenerationFailedError extends Error {
  readonly code = 'GENERATION_FAILED';
  constructor(readonly block: number, message: string) {
    super(block >= 0 ? `block ${block}: ${message}` : message);
    this.name = 'GenerationFailedError';
  }
}

/**
 * Loads a model package and starts its lanes (one worker thread and ONNX session set each).
 *
 * @example
 * ```ts
 * import { createRuntime } from 'block-cascade';
 * const runtime = await createRuntime({ lanes: [{ device: 'cpu', threads: 1 }, { device: 'cpu', threads: 1 }] });
 * ```
 */
export async function createRuntime(options: RuntimeOptions & RuntimeInternals = {}): Promise<Runtime> {
  const laneOptions = laneOptionsOf(options.lanes);
  resolveCascade(options.cascade, laneOptions.length); // fail before any lane starts
  const pkg = await loadModelPackage(options.model ?? defaultModelDir());
  const m = pkg.manifest;
  const denoisingStages = STAGES.length - 1;
  if (m.sampler.timesteps.length !== denoisingStages) {
    throw modelPackageError(
      'E_MODEL_MANIFEST_INVALID',
      pkg.paths.manifest,
      'sampler.timesteps',
      `field "sampler.timesteps": the block machine runs ${denoisingStages} denoising steps (t3 → t0), the model asks for ${m.sampler.timesteps.length}`,
    );
  }
  const capacitySlots = capacityFor({
    sinkFrames: m.kv.sinkFrames,
    windowFrames: m.kv.windowFrames,
    framesPerBlock: m.framesPerBlock,
    inFlightBlocks: MAX_IN_FLIGHT_BLOCKS,
  });
  const data = {
    manifest: m,
    files: { denoiser: pkg.paths.denoiser, textEncoder: pkg.paths.textEncoder, vaeDecoder: pkg.paths.vaeDecoder, layered: pkg.paths.layered },
    exchange: allocateExchange(m, MAX_IN_FLIGHT_BLOCKS * m.framesPerBlock),
    kv: allocateKvSlabs(kvLayoutFor(m, capacitySlots)),
    latents: allocateSlotSlab(LATENT_SLOTS, m.framesPerBlock * m.latent.channels * m.latent.height * m.latent.width),
    cleanLatents: allocateSlotSlab(capacitySlots, m.latent.channels * m.latent.height * m.latent.width),
    contexts: allocateSlotSlab(1 + MAX_PROMPT_SWITCHES, m.text.maxTokens * m.text.contextDim),
  };
  const totalThreads = laneOptions.reduce((sum, lane) => sum + lane.threads, 0);
  const allowSpinning = totalThreads <= availableParallelism();
  const lanes = laneOptions.map((lane, i) => new Lane(asLaneId(i), { ...data, laneId: i, lane, allowSpinning }));
  try {
    await Promise.all(lanes.map((lane) => lane.ready()));
  } catch (error) {
    await Promise.allSettled(lanes.map((lane) => lane.close()));
    throw error;
  }
  return new Runtime(m, lanes, data, options);
}
