/** The goals read as medians over invocations, each against its own ceiling. */
import { describe, expect, it } from 'vitest';
import { formatSpeedGoals, readSpeedGoals, type GoalRecord } from '../src/bench/speed-goals.js';

const record = (label: string, size: string, fields: Partial<GoalRecord>): GoalRecord => ({
  label, size, modelName: `m-${size}`, speedupVsP0: 1, laneScaling: 1, ceiling: 1.8, efficiency: 0.95, overheadPercent: 2, ...fields,
});
const run = (speedup: number, ceiling: number, efficiency = 0.95) => [
  record('P0 baseline', 'medium', { ceiling, efficiency }),
  record('P4 causal lanes 2L', 'medium', { speedupVsP0: speedup, laneScaling: speedup * 1.1, ceiling }),
];

describe('readSpeedGoals', () => {
  it('takes the median of each invocation\'s ratio to its own ceiling, not the best', () => {
    const [g] = readSpeedGoals([run(1.5, 1.8), run(1.7, 1.8), run(1.2, 1.6)], 'P4 causal lanes 2L');
    expect(g?.runs).toBe(3);
    expect(g?.speedupOfCeiling).toBeCloseTo(1.5 / 1.8, 12); // ratios 0.833, 0.944, 0.75
    expect(g?.met.speedup).toBe(false);
    expect(g?.laneScalingOfCeiling).toBeCloseTo((1.5 * 1.1) / 1.8, 12);
    expect(g?.met.laneScaling).toBe(true);
    expect(g?.met.efficiency).toBe(true);
    expect(g?.met.overhead).toBe(true);
    expect(formatSpeedGoals(readSpeedGoals([run(1.5, 1.8)], 'P4 causal lanes 2L'), 'P4 causal lanes 2L')).toContain('| medium | 1 | 1.80× | 0.83 ✗ | 0.92 ✓ | 95% ✓ | 2.0% ✓ |');
  });

  it('applies the default model\'s own efficiency goal and refuses a run without its P0 baseline', () => {
    const [g] = readSpeedGoals([[record('P0 baseline', 'default', { efficiency: 0.8 }), record('X', 'default', {})]], 'X');
    expect(g?.met.efficiency).toBe(true);
    expect(g?.met.overhead).toBeNull();
    expect(() => readSpeedGoals([[record('X', 'large', {})]], 'X')).toThrow(/invocation 1: "X" on m-large has no P0 baseline/);
  });
});
