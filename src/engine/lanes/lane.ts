/**
 * A lane: one device, one worker thread, one set of ONNX sessions.
 *
 * Piscina cannot pin a task to a worker, so each lane is its own pool of exactly one thread;
 * the runtime picks the lane, Piscina only carries the task. `atomics: 'sync'` parks an idle
 * worker in `Atomics.wait`, so a task wakes it without a turn of its event loop; a lane worker
 * listens for nothing between tasks, so nothing is lost by parking it.
 */
import { siblingModule } from '../../core/source-modules.js';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import type { LaneId, LaneOptions } from '../../core/domain.js';
import { AHEAD_YIELD, type AheadTask, type BatchResult, type BatchTask, type DecodeResult, type DecodeTask, type EncodeTask, type LaneTask, type LaneTiming, type PingTask, type RecacheTask, type ShareResult, type ShareTask, type StaleTask, type TickTask } from '../../protocol/lane-messages.js';
import { LaneError } from '../../core/errors.js';
import type { LaneWorkerInit } from './worker-data.js';

const laneWorker = siblingModule(import.meta.url, './lane-worker');

/** Timing of one task as seen from the actor thread. */
export interface TaskTiming extends LaneTiming {
  /** Milliseconds from handing the task to the free worker to its result, on the actor thread. */
  readonly taskMs: number;
  /** Milliseconds the task waited behind the lane's earlier tasks. */
  readonly queueMs: number;
  /** Sessions whose ticks shared this task's call (cross-session batching); absent when alone. */
  readonly batch?: number;
}

/** A task starting on a lane's worker or finishing there (for traces). */
export interface LaneActivity {
  readonly lane: LaneId;
  readonly phase: 'start' | 'end';
  readonly task: Exclude<LaneTask, PingTask>;
  /** `performance.now()` of the moment. */
  readonly at: number;
  /** `end`: what the worker reported (absent when the task failed). */
  readonly result?: LaneTiming & { readonly exchangeWaitMs?: number; readonly layerWaitsMs?: readonly number[]; readonly featureSums?: ShareResult['featureSums'] };
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

/** At most this many sessions' ticks in one batched call. */
export const MAX_BATCH = 8;

/** A task waiting in a lane's queue. */
interface QueuedTask {
  readonly task: Exclude<LaneTask, PingTask>;
  readonly queuedAt: number;
  readonly resolve: (result: LaneTiming & TaskTiming) => void;
  readonly reject: (error: unknown) => void;
}

/** Ticks of equal shape key make calls of equal shapes (blocks joined, past length). */
const batchShape = (task: TickTask): string => `${task.members.length}:${task.pastSlots.length}:${task.attention}`;

export class Lane {
  readonly id: LaneId;
  readonly options: LaneOptions;
  readonly #pool: Piscina;
  /** Unfinished tasks, each with the memory set it uses. */
  readonly #inFlight = new Map<Promise<unknown>, number>();
  #tasksRun = 0;
  #crashes = 0;
  #retired = false;
  readonly #queue: QueuedTask[] = [];
  #busy = false;
  /** The tasks the worker runs now (one, or a batch). */
  #current: readonly QueuedTask[] = [];
  #yields = 0;
  #batches = 0;
  /**
   * Cross-session batching: queued joint ticks of different sessions with equal shapes run as
   * one call (`RuntimeOptions.batchSessions`). Off: one call per task.
   */
  batching = false;
  /**
   * Memory sets (sessions) whose queued tasks leave before the others' (`SessionOptions.priority`),
   * the runtime's one set shared by all its lanes.
   */
  preferred: ReadonlySet<number> = new Set();
  readonly #observers = new Set<(activity: LaneActivity) => void>();

  constructor(id: LaneId, data: LaneWorkerInit) {
    this.id = id;
    this.options = data.lane;
    this.#pool = new Piscina({
      filename: laneWorker.file,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // 0.03–0.1 ms less per task than 'async' at P0 on the bundled model (docs/performance.md).
      atomics: 'sync',
      workerData: data,
      execArgv: laneWorker.execArgv,
    });
    // Piscina emits 'error' for a worker that dies between tasks (it starts another); unheard, the
    // event would be an uncaught exception in the embedding service.
    this.#pool.on('error', () => this.#crashes++);
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
   * Resolves once no task is left on the lane, those dispatched while waiting included (whatever
   * their outcome); with
   * `memory`, every task of that memory set (one session's), so that a session ending or
   * recovering does not wait for the other sessions' work.
   */
  async settled(memory?: number): Promise<void> {
    // An executor unwinding an aborted generation may dispatch while the earlier tasks land.
    for (;;) {
      const pending = [...this.#inFlight].filter(([, m]) => memory === undefined || m === memory).map(([p]) => p);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  encode(task: EncodeTask): Promise<TaskTiming> {
    return this.#run<LaneTiming>(task);
  }

  tick(task: TickTask): Promise<TaskTiming> {
    return this.#run<LaneTiming>(task);
  }

  /**
   * A block's steps back to back (`AheadTask`); the task's timing covers them all. Observers see
   * its steps as ticks, one by one, from whoever follows its progress ({@link reportStep}).
   */
  ahead(task: AheadTask): Promise<TaskTiming> {
    return this.#run<LaneTiming>(task);
  }

  /**
   * Tells the observers about one step of an `ahead` task, as if it were a tick of its own.
   *
   * @example
   * ```ts
   * lane.reportStep({ phase: 'end', task: aheadTask.steps[2], at: performance.now(), result: { runMs, workerMs } });
   * ```
   */
  reportStep(activity: Omit<LaneActivity, 'lane'>): void {
    for (const observer of this.#observers) observer({ lane: this.id, ...activity });
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
   * Queues a task behind the lane's previous ones. The queue is ours rather than Piscina's so
   * that `taskMs` starts when the worker is free (it then measures the runtime's own cost around
   * `session.run`, not time spent waiting for the lane), and so that queued joint ticks of
   * different sessions can leave together as one batched call ({@link batching}).
   */
  #run<R extends LaneTiming>(task: Exclude<LaneTask, PingTask>): Promise<R & TaskTiming> {
    let entry!: QueuedTask;
    const promise = new Promise<R & TaskTiming>((resolve, reject) => {
      entry = { task, queuedAt: performance.now(), resolve: resolve as QueuedTask['resolve'], reject };
    });
    this.#queue.push(entry);
    if (this.preferred.has(task.memory ?? 0)) this.#askToYield();
    this.#inFlight.set(promise, task.memory ?? 0);
    const forget = () => {
      this.#inFlight.delete(promise);
      this.#tasksRun++;
    };
    promise.then(forget, forget);
    void this.#pump();
    return promise;
  }

  /** Runs the queue until it is empty, one call at a time. */
  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#queue.length > 0) {
        this.#current = this.#next();
        await this.#dispatch(this.#current);
      }
    } finally {
      this.#current = [];
      this.#busy = false;
    }
  }

  /**
   * The queue's first task, and with batching, the queued joint ticks of other sessions of the
   * same shape (blocks in the tick, past length): shapes equal, no item is padded, so each
   * computes exactly what it would alone. A tick joins only if no earlier task of its own
   * session is still queued, so each session's tasks keep their order.
   */
  #next(): QueuedTask[] {
    const first = this.#take();
    if (!this.batching || first.task.kind !== 'tick') return [first];
    const shape = batchShape(first.task);
    const group = [first];
    const passed = new Set([first.task.memory ?? 0]);
    for (let i = 0; i < this.#queue.length && group.length < MAX_BATCH; ) {
      const entry = this.#queue[i] as QueuedTask;
      const memory = entry.task.memory ?? 0;
      if (!passed.has(memory) && entry.task.kind === 'tick' && batchShape(entry.task) === shape) {
        group.push(entry);
        this.#queue.splice(i, 1);
      } else i++;
      passed.add(memory);
    }
    if (group.length > 1) this.#batches++;
    return group;
  }

  /**
   * A preferred session's task was queued: a block's steps running ahead for a session that is
   * not preferred stop after the step under way (the rest of the block then queues step by
   * step, behind it), so the preferred task waits one step, not the rest of a block. Steps that
   * decide on feature caching on the lane keep running: their policy lives in the task.
   */
  #askToYield(): void {
    for (const { task } of this.#current) {
      if (task.kind !== 'ahead' || this.preferred.has(task.memory ?? 0) || task.policy) continue;
      if (Atomics.compareExchange(new Int32Array(task.progress, 0, 4), 1, 0, AHEAD_YIELD) === 0) this.#yields++;
    }
  }

  /** Blocks whose steps stopped running ahead for a preferred session's task ({@link preferred}). */
  get yields(): number {
    return this.#yields;
  }

  /**
   * The oldest queued task of a preferred session if there is one, else the oldest task. Taking
   * a session's oldest task keeps that session's order; tasks of different sessions do not
   * depend on each other's place in the queue.
   */
  #take(): QueuedTask {
    const at = this.preferred.size === 0 ? -1 : this.#queue.findIndex((entry) => this.preferred.has(entry.task.memory ?? 0));
    return (at > 0 ? this.#queue.splice(at, 1)[0] : this.#queue.shift()) as QueuedTask;
  }

  async #dispatch(group: readonly QueuedTask[]): Promise<void> {
    const start = performance.now();
    const notify = (entry: QueuedTask, activity: Omit<LaneActivity, 'lane' | 'task'>) => {
      // An `ahead` task's steps are reported one by one (`reportStep`), not the task as a whole.
      if (entry.task.kind !== 'ahead') this.reportStep({ task: entry.task, ...activity });
    };
    if (this.#observers.size > 0) for (const entry of group) notify(entry, { phase: 'start', at: start });
    // Piscina removes a dead worker before it rejects its task: a thread that is gone has crashed.
    const thread = this.#pool.threads[0]?.threadId;
    try {
      const results: readonly LaneTiming[] =
        group.length === 1
          ? [(await this.#pool.run((group[0] as QueuedTask).task)) as LaneTiming]
          : ((await this.#pool.run({ kind: 'batch', ticks: group.map((e) => e.task as TickTask) } satisfies BatchTask)) as BatchResult).items;
      const end = performance.now();
      group.forEach((entry, i) => {
        const result = results[i] as LaneTiming;
        if (this.#observers.size > 0) notify(entry, { phase: 'end', at: end, result });
        // A batched tick's share of the call, so that sums over tasks stay sums of wall time.
        entry.resolve({ ...result, taskMs: (end - start) / group.length, queueMs: start - entry.queuedAt, ...(group.length > 1 ? { batch: group.length } : {}) });
      });
    } catch (error) {
      const end = performance.now();
      const crashed = thread === undefined || !this.#pool.threads.some((t) => t.threadId === thread);
      if (crashed) this.#crashes++;
      for (const entry of group) {
        if (this.#observers.size > 0) notify(entry, { phase: 'end', at: end, error });
        const task = entry.task;
        const oldest = task.kind === 'tick' || task.kind === 'share' ? task.members[0] : task.kind === 'ahead' ? task.steps[0]?.members[0] : undefined;
        const block = 'block' in task ? task.block : (oldest?.block ?? null);
        const stage = oldest?.stageName ?? null;
        entry.reject(new LaneError(this.id, block, stage, crashed ? `${task.kind} failed: the worker died` : `${task.kind} failed`, error, crashed));
      }
    }
  }

  /** Calls that carried the joint ticks of more than one session (cross-session batching). */
  get batches(): number {
    return this.#batches;
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
    // A task that outlives its generation (one dispatched as an aborted generation unwound) must
    // land before the worker goes: Piscina reports a reply to a destroyed pool's task as an
    // 'error' event, which with no listener is an uncaught exception in the embedding process.
    await this.settled();
    await this.#pool.destroy();
  }
}
