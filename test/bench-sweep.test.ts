import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { CascadeRecord } from '../src/bench/cascade-bench.js';
import { GOAL_CONFIGURATION, SWEEP_BUDGET_SECONDS, SWEEP_SIZES, formatSweepSummary, planSweep, sweepConfigs, sweepModelDir } from '../src/bench/sweep.js';
import { sweepPlot } from '../src/bench/svg-plot.js';
import { runCli } from './support/cli.js';

describe('the size sweep plan', () => {
  it('has the default model and the medium and large models of the issue', () => {
    expect(SWEEP_SIZES.map((s) => s.name)).toEqual(['default', 'medium', 'large']);
    expect(SWEEP_SIZES[0]!.builderArgs).toBeNull();
    const args = (name: string) => SWEEP_SIZES.find((s) => s.name === name)!.builderArgs!.join(' ');
    expect(args('medium')).toContain('--layers 8 --width 384 --heads 6 --latent-height 16 --latent-width 16 --video-height 64 --video-width 64');
    expect(args('large')).toContain('--layers 12 --width 512 --heads 8 --latent-height 16 --latent-width 16 --video-height 64 --video-width 64');
    expect(args('medium')).not.toContain('--out');
  });

  it('measures P0 on 1 lane, P1..P4 × joint/lanes and P4 stale on 2 lanes, P4 joint on 1 lane, and the goal configuration with its one-lane reference', () => {
    const configs = sweepConfigs();
    expect(configs[0]).toMatchObject({ label: 'P0 baseline', parallelism: 0, exec: 'joint', lanes: 1, threadsPerLane: 1 });
    for (const p of [1, 2, 3, 4]) {
      for (const exec of ['joint', 'lanes']) expect(configs.filter((c) => c.parallelism === p && c.attention === 'bidirectional' && c.exec === exec && c.lanes === 2)).toHaveLength(1);
    }
    expect(configs.filter((c) => c.parallelism === 4 && c.attention === 'bidirectional' && c.exec === 'joint' && c.lanes === 1)).toHaveLength(1);
    expect(configs.filter((c) => c.parallelism === 4 && c.exec === 'stale' && c.lanes === 2)).toHaveLength(1);
    expect(configs.filter((c) => c.label === GOAL_CONFIGURATION)).toHaveLength(1);
    expect(configs.filter((c) => c.label === 'P4 causal joint 1L')).toHaveLength(1);
    expect(configs.filter((c) => c.label === GOAL_CONFIGURATION && c.exec === 'wavefront' && c.attention === 'causal' && c.cascadeWindow === 'trained')).toHaveLength(1);
    expect(configs.filter((c) => c.label === 'P4 causal joint 1L trained')).toHaveLength(1);
    expect(configs).toHaveLength(15);
    expect(new Set(configs.map((c) => c.label)).size).toBe(configs.length);
  });

  it('fits the default sweep in 25 minutes at the forward times expected on 2 cores', () => {
    const plan = planSweep();
    expect(plan.budgetSeconds).toBe(SWEEP_BUDGET_SECONDS);
    expect(SWEEP_BUDGET_SECONDS).toBe(25 * 60);
    expect(plan.estimatedSeconds).toBeLessThanOrEqual(SWEEP_BUDGET_SECONDS);
    expect(plan.ceilingRuntimes).toBe(2);
    // Videos long enough that a P4 cascade's first and last ticks (fewer blocks in flight) leave
    // two lanes busy 93% of the time at best; and room left for a machine slower than the estimate.
    for (const s of plan.sizes) expect(s.blocks, s.name).toBeGreaterThanOrEqual(10);
    expect(plan.estimatedSeconds).toBeLessThanOrEqual(0.85 * SWEEP_BUDGET_SECONDS);
    for (const s of plan.sizes) {
      expect(s.repeats).toBeGreaterThanOrEqual(3);
      expect(s.warmup).toBeGreaterThanOrEqual(1);
    }
  });

  it('applies overrides to every size and refuses unknown sizes', () => {
    const plan = planSweep({ sizes: ['default', 'large'], blocks: 4, repeats: 1, warmup: 0 });
    expect(plan.sizes.map((s) => [s.name, s.blocks, s.repeats, s.warmup])).toEqual([['default', 4, 1, 0], ['large', 4, 1, 0]]);
    expect(plan.estimatedSeconds).toBeLessThan(planSweep().estimatedSeconds);
    expect(() => planSweep({ sizes: ['huge'] })).toThrow(/unknown sweep size "huge"/);
  });

  it('caches each built model under the temp folder, keyed by its builder arguments', () => {
    const [, medium, large] = SWEEP_SIZES;
    const dir = sweepModelDir(medium!, tmpdir());
    expect(dir.startsWith(tmpdir())).toBe(true);
    expect(sweepModelDir(medium!, tmpdir())).toBe(dir);
    expect(sweepModelDir(large!, tmpdir())).not.toBe(dir);
    expect(sweepModelDir({ ...medium!, builderArgs: [...medium!.builderArgs!, '--seed', '2'] }, tmpdir())).not.toBe(dir);
  });

  it('plots and summarises a size from records', () => {
    const records = sweepConfigs().map(
      (c, i): CascadeRecord => ({
        ...c, modelName: 'm', blocksPerSecond: 10 + i, fps: 30 + 3 * i, msPerForward: 5, runMsPerForward: 4, overheadMsPerForward: 1, overheadPercent: 25, efficiency: 0.8, forwardEfficiency: 0.75,
        timeToFirstFrameMs: 10, driftPsnrDb: 40, driftMaxAbs: 3, speedupVsP0: (10 + i) / 10, speedupVsBestSequential: 1, laneScaling: 1.2, ceiling: 1.7,
      }),
    );
    const svg = sweepPlot([{ title: 'default', records, ceiling: 1.7 }, { title: 'medium', records, ceiling: null }], 'sweep');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('ceiling 1.70×');
    expect(svg).not.toContain('NaN');
    const summary = formatSweepSummary({ size: 'default', modelName: 'm', blocks: 8, repeats: 3, warmup: 1, ceiling: { ceiling: 1.7, concurrent: 2, aloneBlocksPerSecond: 10, togetherBlocksPerSecond: 17, samples: [] }, records });
    expect(summary).toContain('ceiling 1.70×');
    expect(summary).toContain('efficiency 80%');
  });

  it('bench --help lists --sweep and --sizes', async () => {
    const { code, stdout } = await runCli(['bench', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--sweep');
    expect(stdout).toContain('--sizes');
    expect(stdout).toMatch(/clone/);
  });
});
