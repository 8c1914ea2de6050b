/**
 * Which keys each query frame of a lane's share really sees, grouped so that one layer call per
 * group attends to exactly those keys. A joint call gives every query the same keys and hides
 * some with the mask: the hidden ones still cost their dot products. Under causal attention an
 * older block sees fewer in-flight frames, and with the trained window (`TickWindow`) each
 * block sees only the model's window before it: run by group, those keys cost nothing.
 */
import { windowHides, type TickWindow } from '../../core/tick.js';

/** Contiguous frames [from, to). */
export interface FrameRange {
  readonly from: number;
  readonly to: number;
}

/** Consecutive query frames that see the same keys. */
export interface KeyGroup {
  /** The lane's computing frames (compact rows) of the group. */
  readonly rows: FrameRange;
  /** Indices into the tick's past slots that the group sees, in key order. */
  readonly past: readonly number[];
  /** Tick frames it sees, as runs in key order. */
  readonly tick: readonly FrameRange[];
}

/** A computing member's frames on this lane, as {@link keyGroups} needs them. */
export interface QuerySegment {
  /** The member's index in the tick (oldest first). */
  readonly member: number;
  /** Its frames among the lane's computing frames. */
  readonly rows: FrameRange;
}

/** What the tick says about visibility. */
export interface KeySpec {
  readonly attention: 'causal' | 'bidirectional';
  readonly framesPerBlock: number;
  /** Past frames of the tick (its `pastSlots`). */
  readonly pastFrames: number;
  /** Tick frames the lane attends to at most (a prefix of the tick, `ShareTask.keyFrames`). */
  readonly keyFrames: number;
  /** Each member's frame positions, oldest member first. */
  readonly positions: readonly (readonly number[])[];
  readonly window?: TickWindow;
}

function runsOf(frames: readonly number[]): FrameRange[] {
  const runs: FrameRange[] = [];
  for (const f of frames) {
    const last = runs[runs.length - 1];
    if (last && last.to === f) runs[runs.length - 1] = { from: last.from, to: f + 1 };
    else runs.push({ from: f, to: f + 1 });
  }
  return runs;
}

/**
 * The key groups of a lane's computing segments (in row order): consecutive segments whose
 * members see the same past frames and tick frames share a group.
 *
 * @example
 * ```ts
 * // P4 causal, no window: the oldest member sees only itself among the tick frames.
 * keyGroups([{ member: 0, rows: { from: 0, to: 3 } }, { member: 1, rows: { from: 3, to: 6 } }],
 *   { attention: 'causal', framesPerBlock: 3, pastFrames: 9, keyFrames: 6, positions: [[9, 10, 11], [12, 13, 14]] });
 * // [{ rows: { from: 0, to: 3 }, past: [0 … 8], tick: [{ from: 0, to: 3 }] },
 * //  { rows: { from: 3, to: 6 }, past: [0 … 8], tick: [{ from: 0, to: 6 }] }]
 * ```
 */
export function keyGroups(segments: readonly QuerySegment[], spec: KeySpec): KeyGroup[] {
  const F = spec.framesPerBlock;
  const groups: { rows: FrameRange; past: number[]; tick: FrameRange[]; key: string }[] = [];
  for (const segment of segments) {
    const start = (spec.positions[segment.member] as readonly number[])[0] as number;
    const window = spec.window;
    const hides = (position: number) => window !== undefined && windowHides(window, start, position);
    const past = Array.from({ length: spec.pastFrames }, (_, i) => i).filter((i) => !hides(window?.pastPositions[i] as number));
    const tickFrames: number[] = [];
    const last = spec.attention === 'causal' ? Math.min(spec.keyFrames, (segment.member + 1) * F) : spec.keyFrames;
    for (let f = 0; f < last; f++) if (!hides((spec.positions[Math.floor(f / F)] as readonly number[])[f % F] as number)) tickFrames.push(f);
    const tick = runsOf(tickFrames);
    const key = `${past.join(',')}|${tickFrames.join(',')}`;
    const previous = groups[groups.length - 1];
    if (previous && previous.key === key && previous.rows.to === segment.rows.from) previous.rows = { from: previous.rows.from, to: segment.rows.to };
    else groups.push({ rows: segment.rows, past, tick, key });
  }
  return groups.map(({ rows, past, tick }) => ({ rows, past, tick }));
}

/** Key frames a group sees. */
export function groupKeyFrames(group: KeyGroup): number {
  return group.past.length + group.tick.reduce((n, r) => n + r.to - r.from, 0);
}

/**
 * Run by group only when that leaves out at least this share of the key work of one call over
 * every key: each group is a call of its own and a copy of its keys, which a small saving does
 * not repay (one A/B run on the medium sweep model, 2 lanes: a causal tick's prefixes, saving
 * 8–16%, ran 11% slower grouped; the trained window, saving 29–44%, 7% faster).
 */
export const MIN_KEY_WORK_SAVED = 0.25;

/**
 * The share of key work (query frames × key frames) the groups leave out against one call in
 * which every query sees `keyFrames` key frames.
 *
 * @example
 * ```ts
 * keyWorkSaved([{ rows: { from: 0, to: 3 }, past: [], tick: [{ from: 0, to: 3 }] }], 6); // 0.5
 * ```
 */
export function keyWorkSaved(groups: readonly KeyGroup[], keyFrames: number): number {
  const rows = groups.reduce((n, g) => n + g.rows.to - g.rows.from, 0);
  if (rows === 0 || keyFrames === 0) return 0;
  const work = groups.reduce((n, g) => n + (g.rows.to - g.rows.from) * groupKeyFrames(g), 0);
  return 1 - work / (rows * keyFrames);
}
