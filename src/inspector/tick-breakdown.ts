/**
 * Where the time of a tick goes, from a trace: inside `session.run`, waiting at the per-layer
 * K/V barriers, the rest of the lane task (copies, masks, noise, messages), and the gap between
 * one tick's last result and the next tick's first dispatch (the actors' turn on the main
 * thread). Medians over the ticks, so one slow tick does not speak for the run.
 */
import { median } from '../core/median.js';
import type { TraceRecord } from '../core/trace-records.js';
import { pairLaneTasks, type LaneTask } from './lane-tasks.js';

/** Medians, in milliseconds, over the ticks of a trace. */
export interface TickBreakdown {
  readonly ticks: number;
  /** From the tick's first lane start to its last lane end. */
  readonly tickMs: number;
  /** The slowest lane's time inside `session.run`. */
  readonly runMs: number;
  /** The slowest lane's wait at the K/V barriers (0 for joint ticks). */
  readonly waitMs: number;
  /** The tick minus run and wait: the lane tasks' own work and their messages. */
  readonly otherMs: number;
  /** From a tick's last lane end to the next tick's first lane start. */
  readonly gapMs: number;
}

/**
 * The breakdown of the finished `tick`/`share` tasks of a trace (re-caches, encodes and decodes
 * are left out); null when it has no finished tick.
 *
 * @example
 * ```ts
 * const b = tickBreakdown(await readTraceFile('p4.jsonl'));
 * console.log(`${b.tickMs} ms per tick, ${b.waitMs} waiting`);
 * ```
 */
export function tickBreakdown(records: readonly TraceRecord[]): TickBreakdown | null {
  const byTick = new Map<number, LaneTask[]>();
  for (const task of pairLaneTasks(records).tasks) {
    if ((task.task !== 'tick' && task.task !== 'share') || task.tick === null || task.end === null) continue;
    byTick.set(task.tick, [...(byTick.get(task.tick) ?? []), task]);
  }
  const ticks = [...byTick.entries()].sort((a, b) => a[0] - b[0]).map(([, tasks]) => ({
    start: Math.min(...tasks.map((t) => t.start)),
    end: Math.max(...tasks.map((t) => t.end as number)),
    run: Math.max(...tasks.map((t) => t.runMs ?? 0)),
    wait: Math.max(...tasks.map((t) => t.exchangeWaitMs ?? 0)),
  }));
  if (ticks.length === 0) return null;
  const gaps = ticks.slice(1).map((t, i) => t.start - (ticks[i] as { end: number }).end);
  return {
    ticks: ticks.length,
    tickMs: median(ticks.map((t) => t.end - t.start)),
    runMs: median(ticks.map((t) => t.run)),
    waitMs: median(ticks.map((t) => t.wait)),
    otherMs: median(ticks.map((t) => t.end - t.start - t.run - t.wait)),
    // One tick has no gap after it.
    gapMs: gaps.length === 0 ? 0 : median(gaps),
  };
}
