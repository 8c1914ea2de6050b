/**
 * The peer policies' decision logic against hand-computed sequences: teacache (accumulated,
 * rescaled layer-0 input change) and fbcache (first-block residual change, decided from the last
 * computed step), the polynomial fit of the calibration on synthetic data, and the policies'
 * per-block objects agreeing with the pure lists.
 */
import { describe, expect, it } from 'vitest';
import { createFeatureCachePolicy, fbcacheComputeList, fitPolynomial, formatComputeList, polynomial, teacacheComputeList, type MemberIndicator } from '../src/core/feature-cache.js';
import { resolveFeatureCache } from '../src/core/options.js';

/** Drives teacache over one block's steps with the given per-step input changes; returns its list. */
function drive(threshold: number, measured: readonly (number | null)[], coefficients: number[]): string {
  const policy = createFeatureCachePolicy({ policy: 'teacache', threshold, coefficients }, measured.length);
  let list = '';
  for (let stage = 0; stage < measured.length; stage++) {
    const use = policy.use(0, stage);
    list += use === 'compute' ? '1' : '0';
    // Every step but the last reports the next step's input change (the look-ahead).
    policy.observe([{ block: 0, stage, indicator: null, ...(stage + 1 < measured.length ? { nextInput: measured[stage + 1] ?? null } : {}), ...(use === 'reuse' ? { reused: true } : {}) }]);
  }
  expect(policy.use(0, measured.length)).toBe('compute'); // the cache step
  return list;
}

describe('teacache', () => {
  it('accumulates the rescaled change of each step\'s own input and computes when the sum passes the threshold (hand-computed)', () => {
    // p(x) = x, δ = 0.25, 0.1 a step: t1 0.1 < 0.25 reuse (acc 0.1); t2 0.2 reuse; t3 0.3 ≥ 0.25
    // compute (acc 0); t4, t5 reuse; t6 compute; the last computes.
    const changes = [null, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    expect(formatComputeList(teacacheComputeList(changes, [1, 0], 0.25))).toBe('10010011');
    expect(drive(0.25, changes, [1, 0])).toBe('10010011');
  });

  it('rescales through the polynomial: p(x) = 2x doubles the change, so fewer reuses', () => {
    const changes = [null, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    // 0.2 a step: t1 0.2 reuse (acc 0.2); t2 0.4 compute; t3 reuse; t4 compute; t5 reuse; t6 compute; t7 last.
    expect(formatComputeList(teacacheComputeList(changes, [2, 0], 0.25))).toBe('10101011');
    expect(drive(0.25, changes, [2, 0])).toBe('10101011');
  });

  it('decides a step on its own change: the step whose input jumps computes (a prediction from the step before would have reused it)', () => {
    // t1 0.05 reuse (acc 0.05); t2 0.05 + 0.3 ≥ 0.25 compute; t3 reuse (0.05); t4 reuse (0.1); t5 last.
    const changes = [null, 0.05, 0.3, 0.05, 0.05, 0.05];
    expect(formatComputeList(teacacheComputeList(changes, [1, 0], 0.25))).toBe('101001');
    expect(drive(0.25, changes, [1, 0])).toBe('101001');
  });

  it('threshold 0 computes every step; the first and last always compute', () => {
    expect(formatComputeList(teacacheComputeList([null, 0, 0, 0, 0], [1, 0], 0))).toBe('11111');
    expect(formatComputeList(teacacheComputeList([null, 0, 0, 0, 0], [1, 0], 10))).toBe('10001');
    // No measured change (a lane that could not look ahead): that step computes.
    expect(formatComputeList(teacacheComputeList([null, 0.01, null, 0.01, 0.01], [1, 0], 10))).toBe('10101');
  });
});

describe('fbcache', () => {
  it('runs layer 0 at every step and reuses the rest while its residual changed less than the threshold since the last computed step (hand-computed)', () => {
    // t1 0.04, t2 0.08 reuse; t3 0.12 computes (the new reference); t4 0.03, t5 0.05 reuse; t6 0.2 computes; t7 is the last step.
    const changes = [null, 0.04, 0.08, 0.12, 0.03, 0.05, 0.2, 0.01];
    expect(formatComputeList(fbcacheComputeList(changes, 0.1))).toBe('10010011');
    expect(formatComputeList(fbcacheComputeList([null, 0.2, 0.2, 0.2, 0.2, 0.2], 0.1))).toBe('111111');
    expect(formatComputeList(fbcacheComputeList([null, 0, 0, 0, 0], 0))).toBe('11111');
    // No measurement (a one-layer model has no "rest" to reuse): that step computes.
    expect(formatComputeList(fbcacheComputeList([null, 0.01, null, 0.01, 0.01], 0.1))).toBe('10101');
  });

  it('leaves the choice to the lane between the first and last steps, and keeps no state of its own', () => {
    const policy = createFeatureCachePolicy({ policy: 'fbcache', threshold: 0.1 }, 8);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((stage) => policy.use(0, stage))).toEqual(['compute', 'decide', 'decide', 'decide', 'decide', 'decide', 'decide', 'compute', 'compute']);
    policy.observe([{ block: 0, stage: 3, indicator: null, firstResidual: 0.01, reused: true }]);
    expect(policy.saveBlocks([0])).toEqual([]);
  });
});

describe('the calibration fit', () => {
  it('recovers a degree-4 polynomial from synthetic points', () => {
    const truth = [3, -2, 0.5, 1.5, 0.01];
    const xs = Array.from({ length: 40 }, (_, i) => 0.005 + i * 0.01);
    const ys = xs.map((x) => polynomial(truth, x));
    const fitted = fitPolynomial(xs, ys, 4);
    fitted.forEach((c, i) => expect(c).toBeCloseTo(truth[i] as number, 6));
  });

  it('is the least-squares line through noisy points', () => {
    // y = 2x + 1 with ± 0.1 alternating: the line is exact (the noise sums to zero, symmetric).
    const xs = [0, 1, 2, 3];
    const ys = [1.1, 2.9, 5.1, 6.9];
    const [a, b] = fitPolynomial(xs, ys, 1) as [number, number];
    expect(a).toBeCloseTo(1.96, 10);
    expect(b).toBeCloseTo(1.06, 10);
    expect(() => fitPolynomial([1, 2], [1, 2], 4)).toThrow(/at least 5 points/);
  });
});

describe('options', () => {
  it('fills per-policy thresholds and checks coefficients', () => {
    expect(resolveFeatureCache({ policy: 'teacache' })).toEqual({ policy: 'teacache', threshold: 0.1 });
    expect(resolveFeatureCache({ policy: 'fbcache' })).toEqual({ policy: 'fbcache', threshold: 0.1 });
    expect(resolveFeatureCache({ policy: 'teacache', threshold: 0.2, coefficients: [1, 0] })).toEqual({ policy: 'teacache', threshold: 0.2, coefficients: [1, 0] });
    expect(() => resolveFeatureCache({ policy: 'teacache', coefficients: [] })).toThrow(/featureCache\.coefficients/);
    expect(() => resolveFeatureCache({ policy: 'fbcache', threshold: -1 })).toThrow(/featureCache\.threshold/);
    expect(() => resolveFeatureCache({ policy: 'magcache' })).toThrow(/"none" or "bwcache" or "teacache" or "fbcache"/);
  });
});

describe('calibrations', () => {
  it('ship for both bundled models; a missing one fails naming the file', async () => {
    const { loadCalibration, calibrationPath } = await import('../src/engine/model/calibration.js');
    for (const name of ['block-cascade-sprites', 'block-cascade-default']) {
      const calibration = loadCalibration(name);
      expect(calibration.model).toBe(name);
      expect(calibration.coefficients).toHaveLength(5);
    }
    const missing = calibrationPath('no-such-model');
    expect(() => loadCalibration('no-such-model')).toThrow(missing);
    expect(() => loadCalibration('no-such-model')).toThrow(/calibrate-cache --model DIR --steps 32/);
    expect(() => loadCalibration('no-such-model', 50)).toThrow(calibrationPath('no-such-model', 50));
  });

  it('a generation takes the calibration fitted nearest its step count (ties to the fewer steps)', async () => {
    const { loadCalibration } = await import('../src/engine/model/calibration.js');
    for (const name of ['block-cascade-sprites', 'block-cascade-default']) {
      expect([4, 16, 24, 31, 32, 40, 41, 42, 50, 200].map((steps) => loadCalibration(name, steps).steps)).toEqual([16, 16, 16, 32, 32, 32, 32, 50, 50, 50]);
      // Fitted apart: at more steps a step changes less (the smallest fitted input change says so).
      const [at16, at50] = [loadCalibration(name, 16), loadCalibration(name, 50)];
      expect(at50.inputRange![0]).toBeLessThan(at16.inputRange![0]);
    }
  });
});

describe('policy state across a snapshot', () => {
  /** One block over `steps` steps, handed from one policy object to a fresh one after `cut` steps (saveBlocks → restoreBlocks). */
  function driveAcross(settings: Parameters<typeof createFeatureCachePolicy>[0], measured: readonly (number | null)[], cut: number): string {
    let policy = createFeatureCachePolicy(settings, measured.length);
    let list = '';
    for (let stage = 0; stage < measured.length; stage++) {
      if (stage === cut) {
        const saved = policy.saveBlocks([0, 1]);
        policy = createFeatureCachePolicy(settings, measured.length);
        policy.restoreBlocks(saved);
      }
      const use = policy.use(0, stage);
      list += use === 'compute' ? '1' : '0';
      if (settings.policy === 'teacache') {
        policy.observe([{ block: 0, stage, indicator: null, ...(stage + 1 < measured.length ? { nextInput: measured[stage + 1] ?? null } : {}), ...(use === 'reuse' ? { reused: true } : {}) }]);
        continue;
      }
      if (stage === 0) continue;
      const value = measured[stage] ?? null;
      policy.observe([{ block: 0, stage, indicator: value, firstInput: value, ...(use === 'compute' ? { firstResidual: value } : { reused: true }) }]);
    }
    return list;
  }

  const measured = [null, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05];
  for (const settings of [
    { policy: 'bwcache', threshold: 0.15, interval: 3, lastStep: 0.5 },
    { policy: 'teacache', threshold: 0.12, coefficients: [1, 0] },
  ] as const) {
    it(`${settings.policy}: a restored policy decides the rest of a block as the original would`, () => {
      const whole = driveAcross(settings, measured, measured.length);
      expect(whole).toContain('0'); // reuse happens, so the state matters
      for (const cut of [2, 4, 7]) expect(driveAcross(settings, measured, cut)).toBe(whole);
    });
  }
});

describe('which computed steps measure', () => {
  it('bwcache: until the block\'s schedule is fixed, not after (also when restored), again once the block is forgotten', () => {
    const settings = { policy: 'bwcache', threshold: 0.15, interval: 3, lastStep: 0.5 } as const;
    const policy = createFeatureCachePolicy(settings, 12);
    expect(policy.measures(0)).toBe(true);
    policy.observe([{ block: 0, stage: 1, indicator: 0.5 }]);
    expect(policy.measures(0)).toBe(true);
    policy.observe([{ block: 0, stage: 2, indicator: 0.1 }]);
    expect(policy.measures(0)).toBe(false);
    expect(policy.measures(1)).toBe(true);
    const restored = createFeatureCachePolicy(settings, 12);
    restored.restoreBlocks(policy.saveBlocks([0]));
    expect(restored.measures(0)).toBe(false);
    policy.forget(0);
    expect(policy.measures(0)).toBe(true);
  });

  it('teacache and fbcache always measure (their indicators track every step)', () => {
    const tea = createFeatureCachePolicy({ policy: 'teacache', threshold: 0.1, coefficients: [1, 0] }, 12);
    const fb = createFeatureCachePolicy({ policy: 'fbcache', threshold: 0.1 }, 12);
    for (const policy of [tea, fb]) {
      policy.observe([{ block: 0, stage: 1, indicator: 0.01, firstInput: 0.01, firstResidual: 0.01 }]);
      expect(policy.measures(0)).toBe(true);
    }
  });
});
