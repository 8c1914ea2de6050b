/**
 * The size sweep of `bench --sweep`: the cascade benchmark (with its ceiling) at three model
 * sizes — the bundled default model and two random-weight models built at bench time — planned
 * so that a sweep with its default settings fits in {@link SWEEP_BUDGET_SECONDS} on a 2-core
 * machine. This module only plans and names things (pure); the command builds the models and
 * opens the runtimes.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { configLabel, type CascadeConfig, type CascadeRecord } from './cascade-bench.js';
import type { CeilingFigures } from './ceiling.js';

/** Names of the sweep's sizes, smallest first. */
export type SweepSizeName = 'default' | 'medium' | 'large';

/** One size of the sweep and its default measuring budget. */
export interface SweepSize {
  readonly name: SweepSizeName;
  /**
   * Arguments of `tools/model-builder/cli.ts` that build the model (without `--out`); null for
   * the bundled default model.
   */
  readonly builderArgs: readonly string[] | null;
  /** What one P0 forward is expected to cost on a 2-core machine (ms, wall), for the estimate only. */
  readonly estimatedMsPerForward: number;
  readonly blocks: number;
  readonly repeats: number;
  readonly warmup: number;
}

/** What a sweep may take with its default settings on a 2-core machine. */
export const SWEEP_BUDGET_SECONDS = 25 * 60;

/** Generations at once in the ceiling: one per lane of the 2-lane configurations. */
export const SWEEP_CEILING_RUNTIMES = 2;

const BUILT_SHAPE = ['--latent-height', '16', '--latent-width', '16', '--video-height', '64', '--video-width', '64'] as const;

/**
 * The three sizes. Blocks and repeats shrink with the model so that the default sweep fits the
 * budget: 16 blocks of the default model, 10 of the medium and large ones (a P4 video of n
 * blocks takes n + 4 ticks, whose first and last four hold fewer blocks: with 5 blocks two lanes
 * could be busy 83% of the time at best, with 10 93%), 3 repeats and a warm-up round each at
 * least. The forward times
 * below are about twice those measured on the 2-core development machine (1.8, 49 and 115 ms
 * wall per P0 forward), so that a slower machine still fits.
 */
export const SWEEP_SIZES: readonly SweepSize[] = [
  { name: 'default', builderArgs: null, estimatedMsPerForward: 4, blocks: 16, repeats: 5, warmup: 1 },
  {
    name: 'medium',
    builderArgs: ['--name', 'block-cascade-sweep-medium', '--layers', '8', '--width', '384', '--heads', '6', ...BUILT_SHAPE],
    estimatedMsPerForward: 100,
    blocks: 10,
    repeats: 3,
    warmup: 1,
  },
  {
    name: 'large',
    builderArgs: ['--name', 'block-cascade-sweep-large', '--layers', '12', '--width', '512', '--heads', '8', ...BUILT_SHAPE],
    estimatedMsPerForward: 230,
    blocks: 10,
    repeats: 3,
    warmup: 1,
  },
];

/**
 * The one configuration the speed goal is read on at every size (an exact mode: its frames equal
 * `joint`'s under the same window to float rounding, and the trained window's quality is inside
 * P0's intervals, `docs/quality.md`): P4, causal attention, the trained window, `wavefront` on 2
 * lanes.
 */
export const GOAL_CONFIGURATION = 'P4 causal wavefront 2L trained';

/**
 * The configurations measured at every size: the P0 baseline on 1 lane, P1..P4 bidirectional ×
 * {joint, lanes} on 2 lanes, P4 `stale` on 2 lanes, P4 bidirectional joint on 1 lane (the
 * reference of P4's `laneScaling`), P4 causal `lanes` on 2 lanes and `joint` on 1, and
 * {@link GOAL_CONFIGURATION} with its own one-lane reference (the same window).
 *
 * @example
 * ```ts
 * sweepConfigs().map((c) => c.label); // ['P0 baseline', 'P1 bidirectional joint 2L', …, 'P4 causal joint 1L trained']
 * ```
 */
export function sweepConfigs(): CascadeConfig[] {
  const configs: Omit<CascadeConfig, 'label'>[] = [{ parallelism: 0, attention: 'bidirectional', exec: 'joint', lanes: 1, threadsPerLane: 1 }];
  for (const parallelism of [1, 2, 3, 4] as const) {
    for (const exec of ['joint', 'lanes'] as const) configs.push({ parallelism, attention: 'bidirectional', exec, lanes: 2, threadsPerLane: 1 });
  }
  // The mode without per-layer waits, at the level where it matters most.
  configs.push({ parallelism: 4, attention: 'bidirectional', exec: 'stale', lanes: 2, threadsPerLane: 1 });
  configs.push({ parallelism: 4, attention: 'bidirectional', exec: 'joint', lanes: 1, threadsPerLane: 1 });
  configs.push({ parallelism: 4, attention: 'causal', exec: 'lanes', lanes: 2, threadsPerLane: 1 });
  configs.push({ parallelism: 4, attention: 'causal', exec: 'joint', lanes: 1, threadsPerLane: 1 });
  // Under the model's own window: one forward per block, consecutive ticks overlapping (the goal
  // configuration), and its one-lane reference.
  configs.push({ parallelism: 4, attention: 'causal', exec: 'wavefront', lanes: 2, threadsPerLane: 1, cascadeWindow: 'trained' });
  configs.push({ parallelism: 4, attention: 'causal', exec: 'joint', lanes: 1, threadsPerLane: 1, cascadeWindow: 'trained' });
  return configs.map((c, i) => ({ ...c, label: i === 0 ? 'P0 baseline' : configLabel(c) }));
}

/** Seconds per size for building or finding the model and starting its runtimes (estimate). */
const SETUP_SECONDS = 30;
/** Seconds of each generation beyond its forwards: prompt encoding, decodes, start and end (estimate). */
const PER_GENERATION_SECONDS = 0.2;
/** Forwards per block at the bundled packages' four steps (four steps + the cache step). */
const FORWARDS_PER_BLOCK = 5;
/**
 * The ceiling's concurrent generations cost about one P0 generation ÷ (ceiling ÷ N): 1.25 P0
 * generations at a ceiling of 1.6 on 2 cores.
 */
const CEILING_GENERATIONS = 1.25;

/**
 * Estimated seconds of one size (pure). Every configuration is counted as slow as P0 on 1 lane
 * (cascades are faster: the estimate leans to the safe side).
 *
 * @example
 * ```ts
 * estimateSizeSeconds(SWEEP_SIZES[1]!, sweepConfigs().length); // ≈ 368
 * ```
 */
export function estimateSizeSeconds(size: Pick<SweepSize, 'estimatedMsPerForward' | 'blocks' | 'repeats' | 'warmup'>, configs: number): number {
  const p0Seconds = (size.blocks * FORWARDS_PER_BLOCK * size.estimatedMsPerForward) / 1000;
  const round = (configs + CEILING_GENERATIONS) * p0Seconds + (configs + 1) * PER_GENERATION_SECONDS;
  return SETUP_SECONDS + (size.warmup + size.repeats) * round;
}

/** Overrides of the sweep's defaults (flags): they apply to every size. */
export interface SweepOverrides {
  /** Names of the sizes to run, in order (default: all three). */
  readonly sizes?: readonly string[];
  readonly blocks?: number;
  readonly repeats?: number;
  readonly warmup?: number;
}

/** One size as the sweep will run it. */
export interface PlannedSize extends SweepSize {
  readonly estimatedSeconds: number;
}

/** What a sweep will run. */
export interface SweepPlan {
  readonly sizes: readonly PlannedSize[];
  readonly configs: readonly CascadeConfig[];
  readonly ceilingRuntimes: number;
  readonly estimatedSeconds: number;
  readonly budgetSeconds: number;
}

/**
 * Plans a sweep (pure): the sizes asked for, each with its blocks, repeats and warm-up (the
 * overrides, else the size's defaults) and the estimated time.
 *
 * @throws {RangeError} on an unknown size name.
 *
 * @example
 * ```ts
 * planSweep().estimatedSeconds <= SWEEP_BUDGET_SECONDS; // true
 * planSweep({ sizes: ['default'], blocks: 4, repeats: 1, warmup: 0 }).sizes.length; // 1
 * ```
 */
export function planSweep(overrides: SweepOverrides = {}): SweepPlan {
  const names = overrides.sizes ?? SWEEP_SIZES.map((s) => s.name);
  const configs = sweepConfigs();
  const sizes = names.map((name): PlannedSize => {
    const size = SWEEP_SIZES.find((s) => s.name === name);
    if (!size) throw new RangeError(`unknown sweep size "${name}": expected one of ${SWEEP_SIZES.map((s) => s.name).join(', ')}`);
    const planned = {
      ...size,
      blocks: overrides.blocks ?? size.blocks,
      repeats: overrides.repeats ?? size.repeats,
      warmup: overrides.warmup ?? size.warmup,
    };
    return { ...planned, estimatedSeconds: estimateSizeSeconds(planned, configs.length) };
  });
  return {
    sizes,
    configs,
    ceilingRuntimes: SWEEP_CEILING_RUNTIMES,
    estimatedSeconds: sizes.reduce((sum, s) => sum + s.estimatedSeconds, 0),
    budgetSeconds: SWEEP_BUDGET_SECONDS,
  };
}

/**
 * Where a built size's model is cached: a folder under `root` (the OS temp folder) named after
 * the size and a hash of its builder arguments, so a changed config never reuses an old build.
 *
 * @example
 * ```ts
 * sweepModelDir(SWEEP_SIZES[1]!, os.tmpdir()); // os.tmpdir() + '/block-cascade-sweep-models/medium-3f1c…'
 * ```
 */
export function sweepModelDir(size: Pick<SweepSize, 'name' | 'builderArgs'>, root: string): string {
  const hash = createHash('sha256').update(JSON.stringify(size.builderArgs ?? [])).digest('hex').slice(0, 12);
  return join(root, 'block-cascade-sweep-models', `${size.name}-${hash}`);
}

/** The results of one size. */
export interface SweepSizeResult {
  readonly size: SweepSizeName;
  readonly modelName: string;
  readonly blocks: number;
  readonly repeats: number;
  readonly warmup: number;
  readonly ceiling: CeilingFigures | null;
  readonly records: readonly CascadeRecord[];
}

/**
 * The headline figures of one size (pure): P0's ms per forward, overhead and efficiency, the
 * ceiling, and the best 2-lane configuration.
 *
 * @example
 * ```ts
 * formatSweepSummary(result); // 'medium (block-cascade-sweep-medium): P0 52.1 ms/forward, …'
 * ```
 */
export function formatSweepSummary(result: SweepSizeResult): string {
  const p0 = result.records[0];
  if (!p0) return `${result.size}: no records`;
  const best = result.records.filter((r) => r.lanes > 1).sort((a, b) => b.speedupVsP0 - a.speedupVsP0)[0];
  const ceiling = result.ceiling === null ? 'not measured' : `${result.ceiling.ceiling.toFixed(2)}×`;
  const goal = result.records.find((r) => r.label === GOAL_CONFIGURATION);
  const ofCeiling = (x: number | null) => (x === null || result.ceiling === null ? '–' : (x / result.ceiling.ceiling).toFixed(2));
  return (
    `${result.size} (${result.modelName}, ${result.blocks} blocks, ${result.warmup} warm-up + ${result.repeats} repeats): ` +
    `P0 ${p0.msPerForward.toFixed(1)} ms/forward (${p0.runMsPerForward.toFixed(1)} in session.run), ` +
    `overhead ${p0.overheadMsPerForward.toFixed(2)} ms/forward (${p0.overheadPercent.toFixed(1)}%), efficiency ${(p0.efficiency * 100).toFixed(0)}%, ` +
    `ceiling ${ceiling}` +
    (best ? `; best on 2 lanes: ${best.label} ${best.speedupVsP0.toFixed(2)}× P0, laneScaling ${best.laneScaling === null ? '–' : `${best.laneScaling.toFixed(2)}×`}` : '') +
    (goal ? `; ${GOAL_CONFIGURATION}: ${ofCeiling(goal.speedupVsP0)} of the ceiling as speed-up vs P0, ${ofCeiling(goal.laneScaling)} as laneScaling` : '')
  );
}
