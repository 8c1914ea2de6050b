/**
 * Lane tasks: each lane's `start`/`end` records paired into one task with a start and an end.
 *
 * **Forwards.** A *forward* is a lane task of kind `tick`, `share` or `recache`: one run of the
 * denoiser on one lane. A joint tick (`tick`) is one forward on one lane; in `lanes` execution a
 * tick is one `share` per lane, so it counts as one forward per lane; a re-cache is one forward
 * over the cached frames. `encode` (text encoder) and `decode` (VAE) are lane tasks but not
 * forwards: the inspector draws them thin and grey and never counts them.
 */
import type { LaneRecord, LaneTaskKind, TraceRecord } from '../core/trace-records.js';

/** The lane task kinds that are forwards (see the module comment). */
export const FORWARD_TASKS: readonly LaneTaskKind[] = ['tick', 'share', 'recache'];

/**
 * Whether a lane task kind is a forward.
 *
 * @example
 * ```ts
 * isForwardTask('share'); // true
 * isForwardTask('decode'); // false
 * ```
 */
export const isForwardTask = (task: LaneTaskKind): boolean => FORWARD_TASKS.includes(task);

/** One lane task from its start to its end. Absent values are `null` (the model goes out as JSON). */
export interface LaneTask {
  /** Position among all tasks, in order of their start records. */
  readonly index: number;
  readonly lane: number;
  readonly task: LaneTaskKind;
  readonly forward: boolean;
  /** Milliseconds since the trace began. */
  readonly start: number;
  /** `null` while the task runs (a live trace, or one cut short). */
  readonly end: number | null;
  /** Blocks the task works on, oldest first. */
  readonly blocks: readonly number[];
  /** Stage index (0 = t3 … 4 = cache) of each of `blocks`, for `tick` and `share`; empty otherwise. */
  readonly stages: readonly number[];
  /** Blocks of `blocks` that reused cached features in this task (feature caching: no layer ran for them). */
  readonly reused: readonly number[];
  readonly tick: number | null;
  readonly runMs: number | null;
  readonly exchangeWaitMs: number | null;
  /** `share`: the K/V wait at each layer's barrier. */
  readonly layerWaitsMs: readonly number[] | null;
  readonly error: string | null;
}

/** Lane tasks paired from their records, and the `end` records that matched no start. */
export interface PairedTasks {
  readonly tasks: readonly LaneTask[];
  readonly unmatchedEnds: number;
}

const sameTask = (a: LaneRecord, b: LaneRecord): boolean =>
  a.task === b.task && a.tick === b.tick && a.blocks.length === b.blocks.length && a.blocks.every((block, i) => b.blocks[i] === block);

/**
 * Pairs lane `start` and `end` records. A lane runs one task at a time, but the pairing does not
 * rely on it: an `end` closes the oldest open task on its lane with the same kind, tick and
 * blocks, so a reordered pair still lines up.
 *
 * @example
 * ```ts
 * const { tasks } = pairLaneTasks(records);
 * const forwards = tasks.filter((task) => task.forward).length;
 * ```
 */
export function pairLaneTasks(records: readonly TraceRecord[]): PairedTasks {
  const tasks: { -readonly [K in keyof LaneTask]: LaneTask[K] }[] = [];
  const open = new Map<number, { record: LaneRecord; at: number }[]>();
  let unmatchedEnds = 0;
  for (const record of records) {
    if (record.kind !== 'lane') continue;
    const pending = open.get(record.lane) ?? [];
    open.set(record.lane, pending);
    if (record.phase === 'start') {
      pending.push({ record, at: tasks.length });
      tasks.push({
        index: tasks.length,
        lane: record.lane,
        task: record.task,
        forward: isForwardTask(record.task),
        start: record.t,
        end: null,
        blocks: record.blocks,
        stages: record.stages,
        reused: record.reused ?? [],
        tick: record.tick ?? null,
        runMs: null,
        exchangeWaitMs: null,
        layerWaitsMs: null,
        error: null,
      });
      continue;
    }
    const k = pending.findIndex((p) => sameTask(p.record, record));
    if (k < 0) {
      unmatchedEnds++;
      continue;
    }
    const { at } = pending.splice(k, 1)[0] as { at: number };
    const task = tasks[at] as (typeof tasks)[number];
    task.end = record.t;
    task.runMs = record.runMs ?? null;
    task.exchangeWaitMs = record.exchangeWaitMs ?? null;
    task.layerWaitsMs = record.layerWaitsMs ?? null;
    task.error = record.error ?? null;
  }
  return { tasks, unmatchedEnds };
}
