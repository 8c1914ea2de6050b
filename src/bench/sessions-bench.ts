/**
 * The serving benchmark (`bench --sessions 1,2,4,8`): for each P level and each session count n,
 * n generations started at once on one runtime (different seeds, same block count), measured
 * as a whole (aggregate FPS: every frame ÷ the round's wall time) and per session (its FPS, and
 * the intervals between its consecutive blocks: frames arrive a block at a time, so a block's
 * arrival is its first frame's). A warm-up round per configuration first, then repeats,
 * interleaved; figures are medians over the repeats. See docs/serving.md.
 */
import { performance } from 'node:perf_hooks';
import type { Frame, GenerateOptions, GenerateRequest, RuntimeStats } from '../core/api-types.js';
import type { AttentionMode, ExecMode, Parallelism } from '../core/cascade-options.js';
import { median } from '../core/median.js';
import type { JitterFloor } from './jitter-floor.js';
import { roundOrder } from './measure.js';

/** What the benchmark needs of a runtime. */
export interface SessionsRuntime {
  readonly manifest: { readonly name: string };
  readonly lanes: readonly unknown[];
  readonly maxSessions: number;
  generate(request: GenerateRequest, options?: GenerateOptions): AsyncGenerator<Frame, void, undefined>;
  stats(): RuntimeStats;
  /** Generations running now (holding a memory set). */
  runningSessions(): number;
}

/** The cascade a P level runs with (both on the runtime's lanes). */
export interface SessionsLevel {
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
}

/** P0 and the paper's P4 (bidirectional, joint), as the soak runs it. */
export const SESSIONS_LEVELS: readonly SessionsLevel[] = [
  { parallelism: 0, attention: 'bidirectional', exec: 'joint' },
  { parallelism: 4, attention: 'bidirectional', exec: 'joint' },
];

/** Session counts of `bench --sessions` when the list is empty. */
export const DEFAULT_SESSION_COUNTS: readonly number[] = [1, 2, 4, 8];

export interface SessionsBenchOptions {
  /** Session counts, e.g. [1, 2, 4, 8]; 1 is the reference of `speedupVsOne` (added when missing). */
  readonly counts: readonly number[];
  readonly blocks: number;
  readonly repeats: number;
  /** Unmeasured rounds per configuration first. */
  readonly warmup: number;
  readonly prompt: string;
  /** Session i of a round gets seed `seed + i` (default 0). */
  readonly seed?: number;
  readonly levels?: readonly SessionsLevel[];
  /** Called after every round (warm-ups included); throw from it to stop. */
  readonly onRound?: (done: number, total: number) => void;
}

/** One session of a round; times in milliseconds since the round began. */
export interface SessionSample {
  readonly seed: number;
  readonly frames: number;
  /** Arrival of each block's first frame, in block order. */
  readonly blockArrivalsMs: readonly number[];
  readonly endMs: number;
  /** `runtime.runningSessions()` when this session's first block arrived. */
  readonly runningAtFirstBlock: number;
}

/** One round: n sessions started together. */
export interface SessionsRound {
  readonly sessions: number;
  readonly parallelism: Parallelism;
  readonly wallMs: number;
  readonly frames: number;
  /** Forwards the runtime ran during the round (every session's). */
  readonly forwards: number;
  readonly samples: readonly SessionSample[];
}

/** Interval statistics of one session: its block-to-block intervals' p50 and p99. */
export interface IntervalStats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** A round's figures; a record holds their medians over its repeats. */
export interface RoundFigures {
  /** Every frame of the round ÷ the round's wall time. */
  readonly aggregateFps: number;
  /** Median over sessions of a session's frames ÷ its own time (round start to its last frame). */
  readonly perSessionFps: number;
  /** p50 and p99 of the intervals between consecutive blocks, all sessions of a round pooled. */
  readonly p50IntervalMs: number;
  readonly p99IntervalMs: number;
  /** The worst session's p99 ÷ its own median interval (goal: ≤ 1.5). */
  readonly worstP99OverP50: number;
  /** Most sessions running at once, seen at a session's first block (n when they overlapped). */
  readonly concurrentSessions: number;
  /** Forwards per round (n × one session's when every session ran in full). */
  readonly forwards: number;
}

/** A configuration's figures (medians over its repeats). */
export interface SessionsRecord extends RoundFigures {
  readonly modelName: string;
  readonly sessions: number;
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
  readonly exec: ExecMode;
  readonly lanes: number;
  readonly blocks: number;
  readonly repeats: number;
  /** aggregateFps ÷ the same P level's at n = 1 (null without an n = 1 record). */
  readonly speedupVsOne: number | null;
  /** perSessionFps ÷ the same P level's at n = 1. */
  readonly perSessionVsOne: number | null;
}

/**
 * The `p`-th percentile (0..100) of `values`, linearly interpolated between closest ranks (the
 * usual "type 7": p50 is the median, p100 the maximum).
 *
 * @throws {RangeError} for no values or `p` outside 0..100.
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2.5
 * percentile([10, 20], 99); // 19.9
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}

/**
 * The intervals between consecutive arrivals (times in order).
 *
 * @example
 * ```ts
 * blockIntervals([5, 15, 35]); // [10, 20]
 * ```
 */
export function blockIntervals(arrivalsMs: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < arrivalsMs.length; i++) out.push((arrivalsMs[i] as number) - (arrivalsMs[i - 1] as number));
  return out;
}

/**
 * A session's interval statistics; null with fewer than two blocks (no interval).
 *
 * @example
 * ```ts
 * intervalStats([0, 10, 20, 40]); // { count: 3, p50Ms: 10, p99Ms: 19.8 }
 * ```
 */
export function intervalStats(arrivalsMs: readonly number[]): IntervalStats | null {
  const intervals = blockIntervals(arrivalsMs);
  if (intervals.length === 0) return null;
  return { count: intervals.length, p50Ms: percentile(intervals, 50), p99Ms: percentile(intervals, 99) };
}

/** Runs one round: n generations started in the same turn, consumed concurrently. */
async function runRound(runtime: SessionsRuntime, n: number, level: SessionsLevel, o: SessionsBenchOptions): Promise<SessionsRound> {
  const cascade = { parallelism: level.parallelism, attention: level.attention, exec: level.exec };
  const before = runtime.stats().forwards;
  const start = performance.now();
  const one = async (i: number): Promise<SessionSample> => {
    const seed = (o.seed ?? 0) + i;
    const arrivals: number[] = [];
    let frames = 0;
    let runningAtFirstBlock = 0;
    let current = -1;
    for await (const frame of runtime.generate({ seed, blocks: o.blocks, prompt: o.prompt }, { cascade })) {
      frames++;
      if (frame.block === current) continue;
      current = frame.block;
      arrivals.push(performance.now() - start);
      if (arrivals.length === 1) runningAtFirstBlock = runtime.runningSessions();
    }
    return { seed, frames, blockArrivalsMs: arrivals, endMs: performance.now() - start, runningAtFirstBlock };
  };
  // Each `one` runs synchronously up to its generation's first await: all n start in this turn.
  const samples = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const wallMs = performance.now() - start;
  return { sessions: n, parallelism: level.parallelism, wallMs, frames: samples.reduce((s, x) => s + x.frames, 0), forwards: runtime.stats().forwards - before, samples };
}


/**
 * The figures of one round.
 *
 * @example
 * ```ts
 * roundFigures(round).aggregateFps;
 * ```
 */
export function roundFigures(round: SessionsRound): RoundFigures {
  const pooled = round.samples.flatMap((s) => blockIntervals(s.blockArrivalsMs));
  const perSession = round.samples.map((s) => intervalStats(s.blockArrivalsMs)).filter((s): s is IntervalStats => s !== null);
  return {
    aggregateFps: round.wallMs > 0 ? (round.frames * 1000) / round.wallMs : 0,
    perSessionFps: median(round.samples.map((s) => (s.endMs > 0 ? (s.frames * 1000) / s.endMs : 0))),
    p50IntervalMs: pooled.length === 0 ? 0 : percentile(pooled, 50),
    p99IntervalMs: pooled.length === 0 ? 0 : percentile(pooled, 99),
    worstP99OverP50: perSession.length === 0 ? 0 : Math.max(...perSession.map((s) => (s.p50Ms > 0 ? s.p99Ms / s.p50Ms : 0))),
    concurrentSessions: Math.max(...round.samples.map((s) => s.runningAtFirstBlock)),
    forwards: round.forwards,
  };
}

/**
 * Runs the benchmark: per level and count, `warmup` rounds then `repeats` rounds, the repeats
 * interleaved over every configuration (so a slow stretch of a shared machine spreads over all).
 *
 * @throws {RangeError} when a count exceeds `runtime.maxSessions` (the extra sessions would queue).
 * @example
 * ```ts
 * const runtime = await createRuntime({ lanes: 2, maxSessions: 8 });
 * const { records } = await runSessionsBench(runtime, { counts: [1, 2, 4, 8], blocks: 16, repeats: 3, warmup: 1, prompt: 'red ball moving left' });
 * ```
 */
export async function runSessionsBench(runtime: SessionsRuntime, o: SessionsBenchOptions): Promise<{ records: SessionsRecord[]; rounds: SessionsRound[] }> {
  const counts = [...new Set([1, ...o.counts])].sort((a, b) => a - b);
  const over = counts.find((n) => n > runtime.maxSessions);
  if (over !== undefined) throw new RangeError(`runSessionsBench: ${over} sessions, but the runtime runs at most ${runtime.maxSessions} at once`);
  const levels = o.levels ?? SESSIONS_LEVELS;
  const configs = levels.flatMap((level) => counts.map((n) => ({ level, n })));
  const total = configs.length * (o.warmup + o.repeats);
  let done = 0;
  const step = () => o.onRound?.(++done, total);
  for (const { level, n } of configs) {
    for (let w = 0; w < o.warmup; w++) {
      await runRound(runtime, n, level, o);
      step();
    }
  }
  const measured = configs.map(() => [] as SessionsRound[]);
  for (let r = 0; r < o.repeats; r++) {
    // n = 1 would otherwise always run right after the largest round of the level before.
    for (const i of roundOrder(configs.length, r)) {
      const { level, n } = configs[i]!;
      measured[i]!.push(await runRound(runtime, n, level, o));
      step();
    }
  }
  const base = configs.map(({ level, n }, i) => {
    const figures = measured[i]!.map(roundFigures);
    const med = (f: (x: RoundFigures) => number) => median(figures.map(f));
    return {
      modelName: runtime.manifest.name,
      sessions: n,
      parallelism: level.parallelism,
      attention: level.attention,
      exec: level.exec,
      lanes: runtime.lanes.length,
      blocks: o.blocks,
      repeats: o.repeats,
      aggregateFps: med((x) => x.aggregateFps),
      perSessionFps: med((x) => x.perSessionFps),
      p50IntervalMs: med((x) => x.p50IntervalMs),
      p99IntervalMs: med((x) => x.p99IntervalMs),
      worstP99OverP50: med((x) => x.worstP99OverP50),
      concurrentSessions: Math.max(...figures.map((x) => x.concurrentSessions)),
      forwards: med((x) => x.forwards),
    };
  });
  const records = base.map((r) => {
    const one = base.find((b) => b.parallelism === r.parallelism && b.sessions === 1);
    return {
      ...r,
      speedupVsOne: one && one.aggregateFps > 0 ? r.aggregateFps / one.aggregateFps : null,
      perSessionVsOne: one && one.perSessionFps > 0 ? r.perSessionFps / one.perSessionFps : null,
    };
  });
  return { records, rounds: measured.flat() };
}

/** The goals of issue 19 the table is read against (reported, not asserted). */
export const SESSIONS_GOALS = { p0At4: 1.6, p4At4: 1.3, p99OverP50: 1.5 } as const;

/**
 * The records as an aligned table, with the goals' verdicts below and, given `floor`
 * (`measureJitterFloor`), the machine's own jitter beside the p99/p50 verdict.
 *
 * @example
 * ```ts
 * console.log(formatSessionsTable(records, await measureJitterFloor({ threads: 2, chunks: 300, chunkMs: 12 })));
 * ```
 */
export function formatSessionsTable(records: readonly SessionsRecord[], floor?: JitterFloor): string {
  const f = (n: number | null, digits = 1) => (n === null ? '-' : n.toFixed(digits));
  const table = [
    ['P', 'sessions', 'aggregate FPS', '× n=1', 'per-session FPS', 'p50 interval ms', 'p99 interval ms', 'worst p99/p50', 'running at once'],
    ...records.map((r) => [`P${r.parallelism}`, String(r.sessions), f(r.aggregateFps), f(r.speedupVsOne, 2), f(r.perSessionFps), f(r.p50IntervalMs), f(r.p99IntervalMs), f(r.worstP99OverP50, 2), String(r.concurrentSessions)]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  const at4 = (p: number) => records.find((r) => r.parallelism === p && r.sessions === 4);
  const goal = (label: string, r: SessionsRecord | undefined, want: number) =>
    r === undefined || r.speedupVsOne === null ? `${label}: not measured` : `${label}: ${r.speedupVsOne.toFixed(2)}× (goal ≥ ${want}×) ${r.speedupVsOne >= want ? 'met' : 'NOT met'}`;
  const worst = records.reduce((m, r) => Math.max(m, r.worstP99OverP50), 0);
  lines.push(
    '',
    goal('4 P0 sessions ÷ 1', at4(0), SESSIONS_GOALS.p0At4),
    goal('4 P4 sessions ÷ 1', at4(4), SESSIONS_GOALS.p4At4),
    `worst session p99 ÷ its median interval: ${worst.toFixed(2)} (goal ≤ ${SESSIONS_GOALS.p99OverP50}) ${worst <= SESSIONS_GOALS.p99OverP50 ? 'met' : 'NOT met'}`,
  );
  if (floor !== undefined) {
    lines.push(`the machine's own jitter, read it against that: ${floor.threads} thread(s) of fixed CPU work at once, ${floor.chunks} chunks of ${floor.chunkMs.toFixed(1)} ms each: worst p99/p50 ${floor.worstP99OverP50.toFixed(2)}`);
  }
  return lines.join('\n');
}
