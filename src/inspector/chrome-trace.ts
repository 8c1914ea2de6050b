/**
 * Chrome trace-event JSON (the format chrome://tracing and https://ui.perfetto.dev open) from
 * trace records: lane tasks on process 1 (a thread per lane), each block's stay in each state
 * on process 2 (a thread per block), KV-pool occupancy as a counter on process 3, prompt
 * switches and re-caches as global instant events. Times are microseconds.
 */
import type { TraceRecord } from '../core/trace-records.js';
import { TERMINAL_BLOCK_STATES } from './block-timeline.js';
import type { LaneTask } from './lane-tasks.js';
import { deriveModel } from './model.js';

/** Processes of the trace, as Perfetto lists them. */
export const CHROME_PIDS = { lanes: 1, blocks: 2, kv: 3 } as const;

/** One trace event (the fields this exporter writes; see the Trace Event Format). */
export interface ChromeTraceEvent {
  readonly name: string;
  /** `X` complete, `C` counter, `i` instant, `M` metadata. */
  readonly ph: 'X' | 'C' | 'i' | 'M';
  readonly pid: number;
  readonly tid: number;
  /** Microseconds since the trace began. */
  readonly ts: number;
  /** Microseconds, for `X`. */
  readonly dur?: number;
  readonly cat?: string;
  /** Instant scope: `g` global. */
  readonly s?: 'g' | 'p' | 't';
  readonly args?: Readonly<Record<string, string | number | boolean | readonly number[] | null>>;
}

/** A whole Chrome trace file. */
export interface ChromeTrace {
  readonly traceEvents: readonly ChromeTraceEvent[];
  readonly displayTimeUnit: 'ms';
  /** What was run (from the trace's meta record): the format's free-form metadata field. */
  readonly otherData?: Readonly<Record<string, string | number>>;
}

/** Milliseconds → microseconds, kept to a nanosecond so JSON stays short. */
const us = (ms: number): number => Math.round(ms * 1e6) / 1e3;

/**
 * The name a lane task goes by in the timeline and in Perfetto.
 *
 * @example
 * ```ts
 * laneTaskName({ task: 'share', blocks: [3, 4], stages: [1, 0] }, STAGES); // 'B3 t2 · B4 t3'
 * laneTaskName({ task: 'recache', blocks: [0, 1], stages: [] }, STAGES); // 'recache B0 B1'
 * laneTaskName({ task: 'share', blocks: [3, 4], stages: [1, 0], reused: [3] }, STAGES); // 'B3 t2 reused · B4 t3'
 * ```
 */
export function laneTaskName(task: Pick<LaneTask, 'task' | 'blocks' | 'stages'> & { readonly reused?: readonly number[] }, stages: readonly string[]): string {
  if (task.task === 'tick' || task.task === 'share') {
    return task.blocks.map((b, i) => `B${b} ${stages[task.stages[i] ?? -1] ?? '?'}${task.reused?.includes(b) ? ' reused' : ''}`).join(' · ');
  }
  return [task.task, ...task.blocks.map((b) => `B${b}`)].join(' ');
}

/**
 * Converts one generation's records to a Chrome trace.
 *
 * @example
 * ```ts
 * writeFileSync('run.trace.json', JSON.stringify(chromeTrace(records)));
 * // then open run.trace.json in https://ui.perfetto.dev (it is read locally, nothing is uploaded)
 * ```
 */
export function chromeTrace(records: readonly TraceRecord[]): ChromeTrace {
  const model = deriveModel(records);
  const events: ChromeTraceEvent[] = [];
  const meta = (name: string, pid: number, tid: number, value: string): void => {
    events.push({ name, ph: 'M', pid, tid, ts: 0, args: { name: value } });
  };
  meta('process_name', CHROME_PIDS.lanes, 0, 'lanes');
  meta('process_name', CHROME_PIDS.blocks, 0, 'blocks');
  meta('process_name', CHROME_PIDS.kv, 0, 'kv pool');
  for (const lane of model.lanes) meta('thread_name', CHROME_PIDS.lanes, lane, `lane ${lane}`);
  for (const { block } of model.blocks) meta('thread_name', CHROME_PIDS.blocks, block, `block ${block}`);

  for (const task of model.tasks) {
    // A task still running when the trace ends is drawn up to the end.
    const end = task.end ?? model.duration;
    events.push({
      name: laneTaskName(task, model.stages),
      ph: 'X',
      cat: task.task,
      pid: CHROME_PIDS.lanes,
      tid: task.lane,
      ts: us(task.start),
      dur: us(end - task.start),
      args: {
        forward: task.forward,
        blocks: task.blocks,
        stages: task.stages,
        tick: task.tick,
        runMs: task.runMs,
        exchangeWaitMs: task.exchangeWaitMs,
        ...(task.layerWaitsMs === null ? {} : { layerWaitsMs: task.layerWaitsMs }),
        ...(task.reused.length === 0 ? {} : { reused: task.reused }),
        ...(task.end === null ? { unfinished: true } : {}),
        ...(task.error === null ? {} : { error: task.error }),
      },
    });
  }
  for (const { block, transitions } of model.blocks) {
    for (const x of transitions) {
      if (TERMINAL_BLOCK_STATES.includes(x.state)) continue;
      events.push({ name: x.state, ph: 'X', cat: 'block', pid: CHROME_PIDS.blocks, tid: block, ts: us(x.t), dur: us(x.ms ?? model.duration - x.t), args: { block } });
    }
  }
  for (const p of model.kv.points) {
    events.push({ name: 'kv slots', ph: 'C', pid: CHROME_PIDS.kv, tid: 0, ts: us(p.t), args: { committed: p.committed, reserved: p.reserved, free: p.free } });
  }
  for (const s of model.switches) {
    events.push({ name: `switch from B${s.fromBlock}: ${s.prompt}`, ph: 'i', s: 'g', cat: 'switch', pid: CHROME_PIDS.lanes, tid: 0, ts: us(s.t), args: { prompt: s.prompt, fromBlock: s.fromBlock, live: s.live } });
  }
  for (const r of model.recaches) {
    events.push({ name: `recache before B${r.beforeBlock}`, ph: 'i', s: 'g', cat: 'recache', pid: CHROME_PIDS.lanes, tid: 0, ts: us(r.t), args: { beforeBlock: r.beforeBlock, frames: r.frames, ms: r.ms } });
  }
  const m = model.meta;
  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    ...(m === null
      ? {}
      : { otherData: { model: m.model, lanes: m.lanes, parallelism: m.parallelism, attention: m.attention, exec: m.exec, recache: m.recache, seed: m.seed, blocks: m.blocks, startedAt: new Date(m.startedAt).toISOString() } }),
  };
}
