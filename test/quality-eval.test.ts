import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import { defaultEvalPlan, IDENTICAL_PSNR_DB, runQualityEval, summarizeScores, type CaseScore } from '../src/eval/eval.js';
import { evalMarkdown, formatEvalTable } from '../src/eval/eval-report.js';
import { meanInterval } from '../src/quality/stats.js';
import { RANDOM_MODEL } from './support/models.js';

describe('meanInterval', () => {
  it('gives the t interval of the mean', () => {
    const m = meanInterval([1, 2, 3]);
    expect(m.mean).toBe(2);
    expect(m.ci95).toBeCloseTo((4.303 * 1) / Math.sqrt(3), 6);
    expect(meanInterval([5])).toEqual({ mean: 5, ci95: 0, n: 1 });
    expect(meanInterval([]).n).toBe(0);
    // Beyond 30 degrees of freedom the normal quantile.
    const many = Array.from({ length: 100 }, (_, i) => i % 2);
    expect(meanInterval(many).ci95).toBeCloseTo((1.96 * Math.sqrt(0.25 * 100 / 99)) / 10, 6);
  });
});

describe('the evaluation plan and summaries', () => {
  it('every seed gets the plain prompts and one switch video; P0 first, then P1..P4 × both attentions', () => {
    const plan = defaultEvalPlan({ seeds: 3, blocks: 6 });
    expect(plan.cases).toHaveLength(15);
    expect(plan.cases.filter((c) => c.switches.length === 1).map((c) => c.switches[0]?.atBlock)).toEqual([3, 3, 3]);
    expect(plan.configs.map((c) => `P${c.parallelism}${c.parallelism ? ` ${c.attention}` : ''}`)).toEqual([
      'P0', 'P1 causal', 'P1 bidirectional', 'P2 causal', 'P2 bidirectional', 'P3 causal', 'P3 bidirectional', 'P4 causal', 'P4 bidirectional',
    ]);
  });

  it('switch videos that never follow count as not followed and stay out of the response mean', () => {
    const base: CaseScore = {
      seed: 0, prompt: 'p', switched: true, colourAdherence: 1, directionAdherence: 0.5, integrity: 1,
      boundaryJumpRatio: 1, withinBlockJump: 0, boundaryJump: 0, switchResponse: 1, psnrVsP0: 30,
    };
    const s = summarizeScores({ parallelism: 2, attention: 'causal' }, [base, { ...base, switchResponse: null }, { ...base, switched: false, switchResponse: null }]);
    expect(s.switchFollowed.mean).toBe(0.5);
    expect(s.switchResponseBlocks).toMatchObject({ mean: 1, n: 1 });
    expect(s.directionAdherence.mean).toBe(0.5);
    expect(s.psnrVsP0?.mean).toBe(30);
    expect(summarizeScores({ parallelism: 0, attention: 'causal' }, [base]).psnrVsP0).toBeNull();
  });
});

describe('runQualityEval on real lanes', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('scores every case under every configuration and compares cascades with P0', async () => {
    const plan = {
      blocks: 4,
      cases: [
        { seed: 1, prompt: 'red ball moving left', switches: [] },
        { seed: 1, prompt: 'red ball moving left', switches: [{ atBlock: 2, prompt: 'blue ball moving up' }] },
      ],
      configs: [{ parallelism: 0, attention: 'causal' }, { parallelism: 1, attention: 'causal' }, { parallelism: 4, attention: 'bidirectional' }] as const,
    };
    const result = await runQualityEval(runtime, plan);
    expect(result.scores.map((s) => s.cases.length)).toEqual([2, 2, 2]);
    expect(result.scores[0]?.cases.map((c) => c.switched)).toEqual([false, true]);
    const [p0, p1, p4] = result.scores.map((s) => s.cases[0] as CaseScore);
    expect(p0?.psnrVsP0).toBeNull();
    // P1 causal is P0 up to float rounding; P4 bidirectional is not.
    expect(p1?.psnrVsP0).toBeGreaterThan(60);
    expect(p4?.psnrVsP0).toBeLessThan(IDENTICAL_PSNR_DB);
    for (const s of [p0, p1, p4]) {
      for (const v of [s?.colourAdherence, s?.directionAdherence, s?.integrity]) expect(v).toBeGreaterThanOrEqual(0);
    }
    expect(formatEvalTable(result).split('\n')).toHaveLength(4);
    expect(evalMarkdown(result, { model: 'm', seeds: 1, blocks: 4, videosPerConfig: 1, seconds: 1 })).toContain('| P4 bidirectional |');
  });

  it('refuses a plan that does not start with P0', async () => {
    await expect(runQualityEval(runtime, { blocks: 2, cases: [], configs: [{ parallelism: 2, attention: 'causal' }] })).rejects.toThrow(/first configuration must be P0/);
  });
});
