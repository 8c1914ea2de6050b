/**
 * Sessions that ran at the same time: each generation's span on a shared clock, which
 * generations overlap, and their records moved onto that clock. A record's `t` counts from its
 * own generation's `meta`, so two sessions that shared lanes each start at 0; `meta.startedAt`
 * (wall clock, whole milliseconds) is the only time they have in common, so alignment is good
 * to about a millisecond.
 */
import type { MetaRecord, TraceRecord } from '../core/trace-records.js';

/** Where one generation ran on the shared clock, in ms since the earliest generation began. */
export interface GenerationSpan {
  /** Position in the list it came from (0-based). */
  readonly index: number;
  /** The generation's id (`meta.session`); null in traces recorded before it. */
  readonly session: number | null;
  readonly start: number;
  readonly end: number;
}

const metaOf = (records: readonly TraceRecord[]): MetaRecord | undefined => records.find((r): r is MetaRecord => r.kind === 'meta');

/**
 * Each generation's span on the shared clock (its `meta.startedAt` minus the earliest one's, to
 * its last record). A generation without `meta` starts with the earliest.
 *
 * @example
 * ```ts
 * generationSpans(generations(records)); // [{ index: 0, session: 1, start: 0, end: 84.2 }, { index: 1, session: 2, start: 3, end: 90.1 }]
 * ```
 */
export function generationSpans(gens: readonly (readonly TraceRecord[])[]): GenerationSpan[] {
  const starts = gens.map((records) => metaOf(records)?.startedAt ?? null);
  const known = starts.filter((s): s is number => s !== null);
  const origin = known.length === 0 ? 0 : Math.min(...known);
  return gens.map((records, index) => {
    const start = (starts[index] ?? origin) - origin;
    const last = records.reduce((max, r) => Math.max(max, r.t), 0);
    return { index, session: metaOf(records)?.session ?? null, start, end: start + last };
  });
}

/**
 * The generations that ran at the same time as generation `index`, itself included: those whose
 * spans overlap it, directly or through another (A overlaps B, B overlaps C: all three), in
 * their order in `gens`. Touching ends do not count as overlap.
 *
 * @throws {RangeError} for an index that is not one of `gens`.
 *
 * @example
 * ```ts
 * const gens = generations(records);
 * const shown = concurrentGroup(gens, gens.length - 1).map((i) => gens[i]);
 * ```
 */
export function concurrentGroup(gens: readonly (readonly TraceRecord[])[], index: number): number[] {
  if (!Number.isInteger(index) || index < 0 || index >= gens.length) throw new RangeError(`generation index ${index} out of [0, ${gens.length})`);
  const spans = generationSpans(gens);
  const group = new Set<number>([index]);
  // Grow until no span outside overlaps one inside: a handful of generations, so quadratic is fine.
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of spans) {
      if (group.has(s.index)) continue;
      if ([...group].some((i) => s.start < (spans[i] as GenerationSpan).end && (spans[i] as GenerationSpan).start < s.end)) {
        group.add(s.index);
        grew = true;
      }
    }
  }
  return [...group].sort((a, b) => a - b);
}

/**
 * The generations' records with `t` moved onto the shared clock (see {@link generationSpans}),
 * so their lane tasks line up on one time axis. Copies: the input is left as it is.
 *
 * @example
 * ```ts
 * const [a, b] = alignGenerations(generations(records)); // b's meta now has t = 3 if it began 3 ms after a's
 * ```
 */
export function alignGenerations(gens: readonly (readonly TraceRecord[])[]): TraceRecord[][] {
  const spans = generationSpans(gens);
  return gens.map((records, i) => {
    const offset = (spans[i] as GenerationSpan).start;
    return offset === 0 ? [...records] : records.map((r) => ({ ...r, t: r.t + offset }) as TraceRecord);
  });
}
