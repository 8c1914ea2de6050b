/**
 * Each block's walk through the block machine (queued → t3 → t2 → t1 → t0 → cache → done, or
 * failed), from the `state` records of actors `block.<n>`, and the state a block is in at a time.
 */
import type { TraceRecord } from '../core/trace-records.js';

/** States a block does not leave. */
export const TERMINAL_BLOCK_STATES: readonly string[] = ['done', 'failed'];

/** A block entered `state` at `t`, and stayed `ms` (null while it is still there). */
export interface BlockTransition {
  readonly state: string;
  readonly t: number;
  readonly ms: number | null;
}

/** One block's transitions in time order. */
export interface BlockTimeline {
  readonly block: number;
  readonly transitions: readonly BlockTransition[];
}

const BLOCK_ACTOR = /^block\.(\d+)$/;

/**
 * The block number of an actor id (`block.3` → 3), or null for other actors.
 *
 * @example
 * ```ts
 * blockOfActor('block.12'); // 12
 * blockOfActor('supervisor'); // null
 * ```
 */
export function blockOfActor(actor: string): number | null {
  const m = BLOCK_ACTOR.exec(actor);
  return m ? Number(m[1]) : null;
}

/**
 * Every block's transitions, ordered by block. A state's `ms` runs to the next transition; the
 * last state's is null (a terminal state has no end, a live block's state has not ended yet).
 *
 * @example
 * ```ts
 * const [b0] = blockTimelines(records);
 * b0.transitions.map((x) => x.state); // ['queued', 't3', 't2', 't1', 't0', 'cache', 'done']
 * ```
 */
export function blockTimelines(records: readonly TraceRecord[]): BlockTimeline[] {
  const entered = new Map<number, { state: string; t: number }[]>();
  for (const record of records) {
    if (record.kind !== 'state') continue;
    const block = blockOfActor(record.actor);
    if (block === null) continue;
    const list = entered.get(block) ?? [];
    entered.set(block, list);
    list.push({ state: record.state, t: record.t });
  }
  return [...entered.entries()]
    .sort(([a], [b]) => a - b)
    .map(([block, list]) => {
      // Stable sort: equal times keep the order the records came in.
      const sorted = [...list].sort((a, b) => a.t - b.t);
      const transitions = sorted.map((x, i) => {
        const next = sorted[i + 1];
        return { state: x.state, t: x.t, ms: next === undefined ? null : Math.round((next.t - x.t) * 1000) / 1000 };
      });
      return { block, transitions };
    });
}

/**
 * The state a block is in at time `t` (the last transition at or before it), or null before the
 * block exists.
 *
 * @example
 * ```ts
 * stateAt(timeline, 300); // 't2'
 * ```
 */
export function stateAt(timeline: BlockTimeline, t: number): string | null {
  const list = timeline.transitions;
  // Binary search: the first transition after t, minus one.
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as BlockTransition).t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? null : (list[lo - 1] as BlockTransition).state;
}
