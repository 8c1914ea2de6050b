/**
 * Fault injection for crash-recovery tests: a lane worker kills its own thread at a chosen task
 * and point, as a crash would (`process.exit` in a worker thread ends that thread only).
 * Counters live in shared memory, so the replacement worker continues the count of the one it
 * replaces and a fault fires once unless it repeats.
 */
import type { LaneTask } from '../../protocol/lane-messages.js';

/** The kinds of task a fault may hit (each step of an `ahead` task counts as a tick). */
export type FaultTask = Exclude<LaneTask['kind'], 'ping' | 'ahead'>;

/**
 * Kill lane `lane`'s worker at its `nth` task of kind `task` (counted from 1 since the runtime
 * started, across replacements): at its `start`, or `after-step`, once it has written part of
 * its results to shared memory. `repeat`: at that task and every later one of that kind.
 *
 * @example
 * ```ts
 * const faults: LaneFault[] = [{ lane: 1, task: 'tick', nth: 7, point: 'after-step' }];
 * ```
 */
export interface LaneFault {
  readonly lane: number;
  readonly task: FaultTask;
  readonly nth: number;
  readonly point: 'start' | 'after-step';
  readonly repeat?: boolean;
}

/** One lane's faults and their shared counters, as the worker receives them. */
export interface LaneFaults {
  readonly specs: readonly LaneFault[];
  /** One Int32 per spec: the tasks of its kind the lane has started. */
  readonly counters: SharedArrayBuffer;
}

/**
 * The faults of lane `lane`, or undefined when it has none.
 *
 * @example
 * ```ts
 * faultsOfLane(0, [{ lane: 0, task: 'decode', nth: 1, point: 'start' }])?.specs.length; // 1
 * ```
 */
export function faultsOfLane(lane: number, faults: readonly LaneFault[] | undefined): LaneFaults | undefined {
  const specs = (faults ?? []).filter((f) => f.lane === lane);
  if (specs.length === 0) return undefined;
  return { specs, counters: new SharedArrayBuffer(specs.length * Int32Array.BYTES_PER_ELEMENT) };
}

/**
 * Worker side: counts a task of kind `task` that starts now, then crashes if a fault is due at its start.
 *
 * @example
 * ```ts
 * taskStarted(workerData.faults, 'tick');
 * ```
 */
export function taskStarted(faults: LaneFaults | undefined, task: FaultTask): void {
  if (!faults) return;
  const counters = new Int32Array(faults.counters);
  faults.specs.forEach((spec, i) => {
    if (spec.task === task) Atomics.add(counters, i, 1);
  });
  crashIfDue(faults, task, 'start');
}

/**
 * Worker side: ends this worker thread if a fault of kind `task` is due at `point` of the current task.
 *
 * @example
 * ```ts
 * crashIfDue(workerData.faults, 'tick', 'after-step');
 * ```
 */
export function crashIfDue(faults: LaneFaults | undefined, task: FaultTask, point: LaneFault['point']): void {
  if (!faults) return;
  const counters = new Int32Array(faults.counters);
  faults.specs.forEach((spec, i) => {
    if (spec.task !== task || spec.point !== point) return;
    const count = Atomics.load(counters, i);
    if (count === spec.nth || (spec.repeat === true && count > spec.nth)) process.exit(70);
  });
}
