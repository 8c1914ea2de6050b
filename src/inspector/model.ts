/**
 * The inspector's views, derived from trace records: lane tasks (the timeline's bars), each
 * block's transitions (state chart, details), the cascade diagonal (blocks × ticks), KV-pool
 * occupancy, prompt switches and re-caches. Pure and JSON-serialisable: the server sends it to
 * the page as is (`GET /model`), so the page only draws.
 */
import { stageNames, STAGES } from '../core/domain.js';
import { lagFor } from '../core/schedule.js';
import type { EndRecord, MetaRecord, TraceRecord } from '../core/trace-records.js';
import { blockTimelines, stateAt, type BlockTimeline } from './block-timeline.js';
import { pairLaneTasks, type LaneTask } from './lane-tasks.js';

/** One block at one stage in one tick: a cell of the cascade diagonal. */
export interface DiagonalCell {
  readonly block: number;
  readonly tick: number;
  /** Stage index, 0 = t3 … 4 = cache. */
  readonly stage: number;
  /** Earliest start and latest end of the lane tasks that ran it (end null while one runs). */
  readonly start: number;
  readonly end: number | null;
  readonly lanes: readonly number[];
  /** Whether it ran at the tick the schedule gives, b·Δ + s (false would be a scheduling bug). */
  readonly onSchedule: boolean;
  /** Whether the step reused cached features (feature caching) instead of running the layers. */
  readonly reused: boolean;
}

/** KV-pool occupancy from time `t` on (slots). */
export interface KvPoint {
  readonly t: number;
  readonly free: number;
  readonly reserved: number;
  readonly committed: number;
}

/** A prompt switch: requested at `t`, applying from block `fromBlock`. */
export interface SwitchMarker {
  readonly t: number;
  readonly prompt: string;
  readonly fromBlock: number;
  readonly live: boolean;
  /** When `fromBlock` entered its first stage (null until it has): where the switch shows. */
  readonly appliedAt: number | null;
}

/** A re-cache record (sequential mode, before the first block under a new prompt). */
export interface RecacheMarker {
  readonly t: number;
  readonly beforeBlock: number;
  readonly frames: number;
  readonly ms: number;
}

/** A block's frames were handed to the consumer at `t`. */
export interface FrameMark {
  readonly t: number;
  readonly block: number;
  readonly firstFrame: number;
  readonly frames: number;
}

/** Everything the page draws. */
export interface TraceModel {
  /** What was run; null for a live trace that has not started yet. */
  readonly meta: MetaRecord | null;
  /** Δ = 5 − P, the ticks between consecutive blocks' starts; null without meta. */
  readonly lag: number | null;
  /** Time of the last record, ms. */
  readonly duration: number;
  readonly records: number;
  /** Lane ids, 0 … lanes − 1 (and any other seen in the records). */
  readonly lanes: readonly number[];
  /** Stage names by index (`t3` … `cache`). */
  readonly stages: readonly string[];
  /** The block machine's states for the state chart, in order, `failed` last. */
  readonly chartStates: readonly string[];
  readonly tasks: readonly LaneTask[];
  /** Lane tasks that are forwards (`tick`, `share`, `recache`), see lane-tasks.ts. */
  readonly forwards: number;
  /** `end` records that matched no `start` (a damaged trace). */
  readonly unmatchedEnds: number;
  readonly blocks: readonly BlockTimeline[];
  readonly diagonal: { readonly ticks: number; readonly cells: readonly DiagonalCell[] };
  readonly kv: { readonly capacity: number | null; readonly points: readonly KvPoint[] };
  readonly switches: readonly SwitchMarker[];
  readonly recaches: readonly RecacheMarker[];
  readonly frames: readonly FrameMark[];
  /** The supervisor's states in time order. */
  readonly supervisor: readonly { readonly t: number; readonly state: string }[];
  readonly end: EndRecord | null;
}

function diagonalOf(tasks: readonly LaneTask[], lag: number | null, stageCount: number, plannedBlocks: number): TraceModel['diagonal'] {
  const cells = new Map<string, { -readonly [K in keyof DiagonalCell]: DiagonalCell[K] }>();
  for (const task of tasks) {
    // Re-caches and decodes have no tick: they are not on the diagonal.
    if (task.tick === null || (task.task !== 'tick' && task.task !== 'share')) continue;
    task.blocks.forEach((block, i) => {
      const stage = task.stages[i] ?? 0;
      const key = `${block}:${task.tick}`;
      const cell = cells.get(key);
      if (cell === undefined) {
        const onSchedule = lag === null || block * lag + stage === task.tick;
        cells.set(key, { block, tick: task.tick as number, stage, start: task.start, end: task.end, lanes: [task.lane], onSchedule, reused: task.reused.includes(block) });
        return;
      }
      cell.start = Math.min(cell.start, task.start);
      cell.end = cell.end === null || task.end === null ? null : Math.max(cell.end, task.end);
      if (!cell.lanes.includes(task.lane)) cell.lanes = [...cell.lanes, task.lane].sort((a, b) => a - b);
    });
  }
  const list = [...cells.values()].sort((a, b) => a.block - b.block || a.tick - b.tick);
  // The schedule's tick count, (blocks − 1)·Δ + N + 1, or more if the records say so.
  const planned = lag === null || plannedBlocks === 0 ? 0 : (plannedBlocks - 1) * lag + stageCount;
  return { ticks: Math.max(planned, ...list.map((c) => c.tick + 1)), cells: list };
}

/**
 * Derives every view from one generation's records (those after its `meta`; see
 * `generations` in trace-file.ts for files holding several).
 *
 * @example
 * ```ts
 * const model = deriveModel(await readTraceFile('run.jsonl'));
 * console.log(`${model.forwards} forwards over ${model.diagonal.ticks} ticks`);
 * ```
 */
export function deriveModel(records: readonly TraceRecord[]): TraceModel {
  const meta = (records.find((r) => r.kind === 'meta') as MetaRecord | undefined) ?? null;
  // Traces recorded before N-step schedules have neither field: four steps, Δ = 5 − P.
  const steps = meta?.steps ?? STAGES.length - 1;
  const lag = meta === null ? null : (meta.lag ?? lagFor(steps, meta.parallelism));
  const stages = stageNames(steps);
  const { tasks, unmatchedEnds } = pairLaneTasks(records);
  const blocks = blockTimelines(records);
  const laneIds = new Set<number>(Array.from({ length: meta?.lanes ?? 0 }, (_, i) => i));
  for (const task of tasks) laneIds.add(task.lane);
  const chartStates = [...(meta?.blockStates ?? ['queued', ...stages, 'done'])];
  for (const timeline of blocks) for (const x of timeline.transitions) if (!chartStates.includes(x.state)) chartStates.push(x.state);
  if (!chartStates.includes('failed')) chartStates.push('failed');
  const firstStageAt = (block: number): number | null =>
    blocks.find((b) => b.block === block)?.transitions.find((x) => x.state !== 'queued')?.t ?? null;
  let end: EndRecord | null = null;
  const kv: KvPoint[] = [];
  const switches: SwitchMarker[] = [];
  const recaches: RecacheMarker[] = [];
  const frames: FrameMark[] = [];
  const supervisor: { t: number; state: string }[] = [];
  let duration = 0;
  for (const r of records) {
    duration = Math.max(duration, r.t);
    if (r.kind === 'kv') kv.push({ t: r.t, free: r.free, reserved: r.reserved, committed: r.committed });
    else if (r.kind === 'switch') switches.push({ t: r.t, prompt: r.prompt, fromBlock: r.fromBlock, live: r.live, appliedAt: firstStageAt(r.fromBlock) });
    else if (r.kind === 'recache') recaches.push({ t: r.t, beforeBlock: r.beforeBlock, frames: r.frames, ms: r.ms });
    else if (r.kind === 'frame') frames.push({ t: r.t, block: r.block, firstFrame: r.firstFrame, frames: r.frames });
    else if (r.kind === 'state' && r.actor === 'supervisor') supervisor.push({ t: r.t, state: r.state });
    else if (r.kind === 'end') end = r;
  }
  return {
    meta,
    lag,
    duration,
    records: records.length,
    lanes: [...laneIds].sort((a, b) => a - b),
    stages,
    chartStates,
    tasks,
    forwards: tasks.filter((task) => task.forward).length,
    unmatchedEnds,
    blocks,
    diagonal: diagonalOf(tasks, lag, steps + 1, meta?.blocks ?? 0),
    kv: { capacity: meta?.kvCapacity ?? null, points: kv },
    switches,
    recaches,
    frames,
    supervisor,
    end,
  };
}

/**
 * Which blocks are in which state at time `t` (every chart state is a key; blocks that do not
 * exist yet are in none).
 *
 * @example
 * ```ts
 * blocksByState(model, 300); // { queued: [5], t3: [4], t2: [3], …, done: [0], failed: [] }
 * ```
 */
export function blocksByState(model: TraceModel, t: number): Record<string, number[]> {
  const out: Record<string, number[]> = Object.fromEntries(model.chartStates.map((s) => [s, [] as number[]]));
  for (const timeline of model.blocks) {
    const state = stateAt(timeline, t);
    if (state !== null) (out[state] ??= []).push(timeline.block);
  }
  return out;
}
