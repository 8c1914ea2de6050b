/**
 * The page's multi-session data (`GET /sessions`): every shown generation's model on one
 * shared clock, and for each a swimlane — its ticks and handed-out blocks — so sessions that
 * shared the lanes can be read side by side. Pure and JSON-serialisable, like model.ts.
 */
import type { TraceRecord } from '../core/trace-records.js';
import { deriveModel, type TraceModel } from './model.js';
import { alignGenerations, generationSpans } from './session-groups.js';

/** One tick of a session: from its first lane task's start to its last one's end. */
export interface SwimlaneTick {
  readonly tick: number;
  readonly start: number;
  /** null while a lane task of it runs. */
  readonly end: number | null;
  /** The blocks it denoised (every lane's), oldest first. */
  readonly blocks: readonly number[];
}

/** A session's row in the sessions view. */
export interface Swimlane {
  readonly ticks: readonly SwimlaneTick[];
  /** When each block's frames were handed out. */
  readonly frames: readonly { readonly t: number; readonly block: number }[];
}

/** One generation as the page shows it. */
export interface SessionView {
  /** `meta.session`, or for traces recorded before ids, the generation's 1-based position. */
  readonly id: number;
  readonly label: string;
  /** Where it began on the shared clock (ms after the earliest shown generation). */
  readonly start: number;
  readonly end: number;
  /** Its views, times on the shared clock. */
  readonly model: TraceModel;
  readonly swimlane: Swimlane;
}

/** Everything `/sessions` sends. */
export interface SessionsModel {
  /** The last record's time on the shared clock. */
  readonly duration: number;
  readonly sessions: readonly SessionView[];
}

/**
 * A session's ticks and handed-out blocks (tick and share lane tasks merged per tick).
 *
 * @example
 * ```ts
 * sessionSwimlane(deriveModel(records)).ticks.length; // the ticks the session ran
 * ```
 */
export function sessionSwimlane(model: TraceModel): Swimlane {
  const byTick = new Map<number, { tick: number; start: number; end: number | null; blocks: number[] }>();
  for (const task of model.tasks) {
    if (task.tick === null || (task.task !== 'tick' && task.task !== 'share')) continue;
    const tick = byTick.get(task.tick);
    if (tick === undefined) {
      byTick.set(task.tick, { tick: task.tick, start: task.start, end: task.end, blocks: [...task.blocks] });
      continue;
    }
    tick.start = Math.min(tick.start, task.start);
    tick.end = tick.end === null || task.end === null ? null : Math.max(tick.end, task.end);
    for (const b of task.blocks) if (!tick.blocks.includes(b)) tick.blocks.push(b);
  }
  const ticks = [...byTick.values()].sort((a, b) => a.tick - b.tick).map((t) => ({ ...t, blocks: t.blocks.sort((a, b) => a - b) }));
  return { ticks, frames: model.frames.map((f) => ({ t: f.t, block: f.block })) };
}

/**
 * Derives the views of several generations on one shared clock (see session-groups.ts), in
 * the order they began: the page's sessions view, filter and lanes × time of concurrent sessions.
 *
 * @example
 * ```ts
 * const gens = generations(await readTraceFile('two-sessions.jsonl'));
 * const { sessions } = deriveSessionsModel(gens);
 * sessions.map((s) => `${s.label}: ${s.swimlane.ticks.length} ticks`);
 * ```
 */
export function deriveSessionsModel(gens: readonly (readonly TraceRecord[])[]): SessionsModel {
  const spans = generationSpans(gens);
  const aligned = alignGenerations(gens);
  const used = new Set<number>();
  const sessions = aligned.map((records, i): SessionView => {
    const span = spans[i] as (typeof spans)[number];
    const model = deriveModel(records);
    // Old traces have no ids: their position in the file names them instead. Two runtimes'
    // generations appended to one file can repeat an id: the page keys on it, so the later one
    // takes a free number and says which generation it is.
    let id = span.session ?? i + 1;
    let label = span.session === null ? `generation ${id}` : `session ${id}`;
    if (used.has(id)) {
      label = `${label} (generation ${i + 1})`;
      id = Math.max(...used, ...spans.map((x) => x.session ?? 0), gens.length) + 1;
    }
    used.add(id);
    return { id, label, start: span.start, end: span.end, model, swimlane: sessionSwimlane(model) };
  });
  // In the order they began, whatever order their first records reached the sink in.
  sessions.sort((a, b) => a.start - b.start);
  return { duration: Math.max(0, ...sessions.map((s) => s.end)), sessions };
}
