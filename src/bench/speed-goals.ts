/**
 * The performance goals read the way they are stated: per model, the median over separate bench
 * invocations (`bench --sweep` or `bench --cascade` JSON reports) of one fixed configuration's
 * ratio to the ceiling measured in the same invocation, and of P0's efficiency and overhead.
 * Pure: the tool `tools/speed-goals.ts` reads the files and prints this.
 */
import { median } from '../core/median.js';
import type { CascadeRecord } from './cascade-bench.js';

/** The fields of a bench record the goals read (`size` is present in sweep records). */
export type GoalRecord = Pick<CascadeRecord, 'label' | 'modelName' | 'speedupVsP0' | 'laneScaling' | 'ceiling' | 'efficiency' | 'overheadPercent'> & { readonly size?: string };

/** Goal thresholds of one model size. */
export interface GoalThresholds {
  /** The configuration's speed-up vs P0 and its laneScaling, each ÷ the ceiling. */
  readonly ofCeiling: number;
  readonly p0Efficiency: number;
  /** Largest P0 overhead per forward, % of `session.run` (null: no goal at this size). */
  readonly p0OverheadPercent: number | null;
}

/**
 * The stated goals: 0.9 of the ceiling everywhere; efficiency 90% (75% on the tiny default model); overhead ≤ 3% on medium and large.
 *
 * @example
 * ```ts
 * thresholdsFor('default'); // { ofCeiling: 0.9, p0Efficiency: 0.75, p0OverheadPercent: null }
 * ```
 */
export function thresholdsFor(size: string): GoalThresholds {
  return size === 'default' ? { ofCeiling: 0.9, p0Efficiency: 0.75, p0OverheadPercent: null } : { ofCeiling: 0.9, p0Efficiency: 0.9, p0OverheadPercent: 3 };
}

/** One model's reading over the invocations. */
export interface GoalReading {
  readonly size: string;
  readonly modelName: string;
  /** Invocations that measured the configuration and a ceiling. */
  readonly runs: number;
  readonly ceiling: number;
  readonly speedupOfCeiling: number;
  readonly laneScalingOfCeiling: number | null;
  readonly p0Efficiency: number;
  readonly p0OverheadPercent: number;
  readonly thresholds: GoalThresholds;
  /** Each goal, met or not (on the medians). */
  readonly met: { readonly speedup: boolean; readonly laneScaling: boolean; readonly efficiency: boolean; readonly overhead: boolean | null };
}

/** A record's size: the sweep's name, else read from the sweep models' names. */
function sizeOf(r: GoalRecord): string {
  if (r.size !== undefined) return r.size;
  const match = /sweep-(\w+)$/.exec(r.modelName);
  return match ? (match[1] as string) : 'default';
}

/**
 * Reads the goals of `label` from several invocations' records, per model (in first-seen order).
 *
 * @throws {Error} when an invocation has no P0 baseline for a model that has the configuration.
 *
 * @example
 * ```ts
 * const readings = readSpeedGoals(files.map((f) => JSON.parse(readFileSync(f, 'utf8')).records), 'P4 causal lanes 2L');
 * readings[0]?.speedupOfCeiling; // e.g. 0.84
 * ```
 */
export function readSpeedGoals(invocations: readonly (readonly GoalRecord[])[], label: string): GoalReading[] {
  const bySize = new Map<string, { modelName: string; ceiling: number[]; speedup: number[]; laneScaling: number[]; efficiency: number[]; overhead: number[] }>();
  invocations.forEach((records, i) => {
    for (const r of records) {
      if (r.label !== label || r.ceiling === null) continue;
      const size = sizeOf(r);
      const p0 = records.find((b) => b.label === 'P0 baseline' && sizeOf(b) === size);
      if (!p0) throw new Error(`invocation ${i + 1}: "${label}" on ${r.modelName} has no P0 baseline record`);
      const into = bySize.get(size) ?? { modelName: r.modelName, ceiling: [], speedup: [], laneScaling: [], efficiency: [], overhead: [] };
      into.ceiling.push(r.ceiling);
      into.speedup.push(r.speedupVsP0 / r.ceiling);
      if (r.laneScaling !== null) into.laneScaling.push(r.laneScaling / r.ceiling);
      into.efficiency.push(p0.efficiency);
      into.overhead.push(p0.overheadPercent);
      bySize.set(size, into);
    }
  });
  return [...bySize].map(([size, s]) => {
    const thresholds = thresholdsFor(size);
    const speedupOfCeiling = median(s.speedup);
    const laneScalingOfCeiling = s.laneScaling.length > 0 ? median(s.laneScaling) : null;
    const p0Efficiency = median(s.efficiency);
    const p0OverheadPercent = median(s.overhead);
    return {
      size,
      modelName: s.modelName,
      runs: s.speedup.length,
      ceiling: median(s.ceiling),
      speedupOfCeiling,
      laneScalingOfCeiling,
      p0Efficiency,
      p0OverheadPercent,
      thresholds,
      met: {
        speedup: speedupOfCeiling >= thresholds.ofCeiling,
        laneScaling: laneScalingOfCeiling !== null && laneScalingOfCeiling >= thresholds.ofCeiling,
        efficiency: p0Efficiency >= thresholds.p0Efficiency,
        overhead: thresholds.p0OverheadPercent === null ? null : p0OverheadPercent <= thresholds.p0OverheadPercent,
      },
    };
  });
}

/**
 * A Markdown table of readings (pure).
 *
 * @example
 * ```ts
 * console.log(formatSpeedGoals(readings, 'P4 causal lanes 2L'));
 * ```
 */
export function formatSpeedGoals(readings: readonly GoalReading[], label: string): string {
  const mark = (ok: boolean | null) => (ok === null ? '' : ok ? ' ✓' : ' ✗');
  const rows = readings.map(
    (g) =>
      `| ${g.size} | ${g.runs} | ${g.ceiling.toFixed(2)}× | ${g.speedupOfCeiling.toFixed(2)}${mark(g.met.speedup)} | ` +
      `${g.laneScalingOfCeiling === null ? '–' : g.laneScalingOfCeiling.toFixed(2)}${mark(g.met.laneScaling)} | ` +
      `${(100 * g.p0Efficiency).toFixed(0)}%${mark(g.met.efficiency)} | ${g.p0OverheadPercent.toFixed(1)}%${mark(g.met.overhead)} |`,
  );
  return [
    `${label}, medians over invocations (goal: ≥ 0.9 of the ceiling; P0 efficiency ≥ 90%, 75% on default; overhead ≤ 3% on medium and large)`,
    '| size | runs | ceiling | vs P0 ÷ ceiling | laneScaling ÷ ceiling | P0 efficiency | P0 overhead |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
