/**
 * A lane: one device, one worker thread, one set of ONNX sessions.
 *
 * Piscina cannot pin a task to a worker, so each lane is its own pool of exactly one thread;
 * the runtime picks the lane, Piscina only carries the task. `atomics: 'async'` keeps an idle
 * worker able to receive messages between tasks (the default 'sync' parks it).
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import type { LaneId, LaneOptions } from '../../core/domain.js';
import type { DecodeResult, DecodeTask, EncodeTask, LaneTask, LaneTiming, PingTask, RecacheTask, ShareResult, ShareTask, StaleTask, TickTask } from '../../protocol/lane-messages.js';
import { LaneError } from '../../core/errors.js';
import type { LaneWorkerInit } from './worker-data.js';

/** Under tsx or vitest this file is TypeScript, and so is its worker; built, both are JS. */
const runningFromSource = import.meta.url.endsWith('.ts');
const workerFile = fileURLToPath(new URL(`./lane-worker.${runningFromSource ? 'ts' : 'js'}`, import.meta.url));
/** tsx's loader by absolute URL: a bare `--import tsx` would resolve from the caller's cwd. */
const sourceExecArgv = (): string[] => ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];

/** Timing of one task as seen from the actor thread. */
export interface TaskTiming extends LaneTiming {
  /** Milliseconds from handing the task to the free worker to its result, on the actor thread. */
  readonly taskMs: number;
  /** Milliseconds the task waited behind the lane's earlier tasks. */
  readonly queueMs: number;
}

/** A task starting on a lane's worker or finishing there (for traces). */
export interface LaneActivity {
  readonly lane: LaneId;
  readonly phase: 'start' | 'end';
  readonly task: Exclude<LaneTask, PingTask>;
  /** `performance.now()` of the moment. */
  readonly at: number;
  /** `end`: what the worker reported (absent when the task failed). */
  readonly result?: LaneTiming & { readonly exchangeWaitMs?: number; readonly layerWaitsMs?: readonly number[] };
  /** `end` of a failed task. */
  readonly error?: unknown;
}

/**
 * The lanes not retired after crashing ({@link Lane.retire}): ticks, decodes and encodes go to these.
 *
 * @example
 * ```ts
 * const shares = shareFrames(frames, inService(runtime.lanes).length);
 * ```
 */
export const inService = (lanes: readonly Lane[]): readonly Lane[] => lanes.filter((lane) => !lane.retired);

export class Lane {
  readonly id: LaneId;
  readonly options: LaneOptions;
  readonly #pool: Piscina;
  /** Unfinished tasks, each with the memory set it uses. */
  readonly #inFlight = new Map<Promise<unknown>, number>();
  #tasksRun = 0;
  #crashes = 0;
  #retired = false;
  #tail: Promise<void> = Promise.resolve();
  readonly #observers = new Set<(activity: LaneActivity) => void>();

  constructor(id: LaneId, data: LaneWorkerInit) {
    this.id = id;
    this.options = data.lane;
    this.#pool = new Piscina({
      filename: workerFile,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      atomics: 'async',
      workerData: data,
      execArgv: runningFromSource ? sourceExecArgv() : [],
    });
  }

  /** Tasks dispatched to this lane and not yet finished. */
  get pending(): number {
    return this.#inFlight.size;
  }

  /** Tasks this lane has finished since it started, failed ones included. */
  get tasksRun(): number {
    return this.#tasksRun;
  }

  /**
   * Resolves once every task dispatched so far has settled (whatever its outcome); with
   * `memory`, every task of that memory set (one session's), so that a session ending or
   * recovering does not wait for the other sessions' work.
   */
  async settled(memory?: number): Promise<void> {
    await Promise.allSettled([...this.#inFlight].filter(([, m]) => memory === undefined || m === memory).map(([p]) => p));
  }

  encode(task: EncodeTask): Promise<TaskTiming> {
    return this.#run<LaneTiming>(task);
  }

  tick(task: TickTask): Promise<TaskTiming> {
    return this.#run<LaneTiming>(task);
  }

  share(task: ShareTask): Promise<ShareResult & TaskTiming> {
    return this.#run<ShareResult>(task);
  }

  stale(task: StaleTask): Promise<TaskTiming> {
    return this.#run<LaneTiming>(task);
  }

  recache(task: RecacheTask): Promise<TaskTiming> {
    return this.#run<LaneTiming>(task);
  }

  decode(task: DecodeTask): Promise<DecodeResult & TaskTiming> {
    return this.#run<DecodeResult>(task);
  }

  /**
   * Calls `observer` when a task starts on the worker and when it ends; returns the function
   * that stops it. Observers only see handles and timings.
   *
   * @example
   * ```ts
   * const stop = lane.observe((a) => console.log(a.lane, a.phase, a.task.kind));
   * ```
   */
  observe(observer: (activity: LaneActivity) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Waits until the worker has loaded its sessions, so that start-up errors surface here; with
   * `warm`, also until it has run them once on zero inputs (see `warm-up.ts`). Resolves with the
   * warm-up's milliseconds.
   *
   * @example
   * ```ts
   * await lane.ready({ warm: true, layered: lanes.length > 1, inFlightBlocks: 5 });
   * ```
   */
  async ready(options: Omit<PingTask, 'kind'> = { warm: false, layered: false, inFlightBlocks: 1 }): Promise<number> {
    try {
      const timing = (await this.#pool.run({ kind: 'ping', ...options } satisfies PingTask)) as LaneTiming;
      return timing.runMs;
    } catch (error) {
      throw new LaneError(this.id, null, null, 'failed to start', error);
    }
  }

  /**
   * Queues a task behind the lane's previous one. The queue is ours rather than Piscina's so
   * that `taskMs` starts when the worker is free: it then measures the runtime's own cost
   * around `session.run` (messages, copies, gathers), not time spent waiting for the lane.
   */
  #run<R extends LaneTiming>(task: Exclude<LaneTask, PingTask>): Promise<R & TaskTiming> {
    const queuedAt = performance.now();
    const promise = this.#tail.then(() => this.#dispatch<R>(task, queuedAt));
    this.#tail = promise.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight.set(promise, task.memory ?? 0);
    const forget = () => {
      this.#inFlight.delete(promise);
      this.#tasksRun++;
    };
    promise.then(forget, forget);
    return promise;
  }

  async #dispatch<R extends LaneTiming>(task: Exclude<LaneTask, PingTask>, queuedAt: number): Promise<R & TaskTiming> {
    const start = performance.now();
    const notify = (activity: Omit<LaneActivity, 'lane' | 'task'>) => {
      for (const observer of this.#observers) observer({ lane: this.id, task, ...activity });
    };
    if (this.#observers.size > 0) notify({ phase: 'start', at: start });
    // Piscina removes a dead worker before it rejects its task: a thread that is gone has crashed.
    const thread = this.#pool.threads[0]?.threadId;
    try {
      const result = (await this.#pool.run(task)) as R;
      const end = performance.now();
      if (this.#observers.size > 0) notify({ phase: 'end', at: end, result });
      return { ...result, taskMs: end - start, queueMs: start - queuedAt };
    } catch (error) {
      if (this.#observers.size > 0) notify({ phase: 'end', at: performance.now(), error });
      const oldest = task.kind === 'tick' || task.kind === 'share' ? task.members[0] : undefined;
      const block = 'block' in task ? task.block : (oldest?.block ?? null);
      const stage = oldest?.stageName ?? null;
      const crashed = thread === undefined || !this.#pool.threads.some((t) => t.threadId === thread);
      if (crashed) this.#crashes++;
      throw new LaneError(this.id, block, stage, crashed ? `${task.kind} failed: the worker died` : `${task.kind} failed`, error, crashed);
    }
  }

  /** Times this lane's worker died during a task (each time Piscina started a replacement). */
  get crashes(): number {
    return this.#crashes;
  }

  /** Whether the lane was taken out of service after crashing too often ({@link retire}). */
  get retired(): boolean {
    return this.#retired;
  }

  /** Takes the lane out of service: pickers and executors skip it from now on. Its worker stays up until `close`. */
  retire(): void {
    this.#retired = true;
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
