/** BWCache's compute lists against hand-computed schedules, and the per-generation policy. */
import { describe, expect, it } from 'vitest';
import { bwcacheComputeList, createFeatureCachePolicy, formatComputeList, indicatorOf, protectedTail } from '../src/core/feature-cache.js';

const list = (steps: number, trigger: number | null, interval = 3, lastStep = 0.5) => formatComputeList(bwcacheComputeList(steps, trigger, interval, lastStep));
const ones = (s: string) => [...s].filter((c) => c === '1').length;

describe('bwcache compute lists', () => {
  it('30 steps triggered at step 6: 15 of 30 computed, as the released code does', () => {
    expect(list(30, 6)).toBe('111111100010001000100010001111');
    expect(ones(list(30, 6))).toBe(15);
  });

  it('30 steps triggered at step 10: 19 of 30 computed', () => {
    // 0..10 computed; then 0001 from 11; the last ⌊10·0.5⌋ = 5 steps (25..29) computed.
    expect(list(30, 10)).toBe('11111111111' + '0001' + '0001' + '0001' + '00' + '11111');
    expect(ones(list(30, 10))).toBe(19);
  });

  it('a trigger at the earliest step (1) has a zero-step tail, which must not reset the schedule', () => {
    expect(protectedTail(1, 0.5)).toBe(0);
    // 0 and 1 computed, then 0001 repeating to the end; nothing forced back.
    expect(list(10, 1)).toBe('1100010001');
    expect(list(12, 1)).toBe('110001000100');
    expect(list(32, 1)).toBe('11' + '0001'.repeat(7) + '00');
  });

  it('a zero-step tail later on (lastStep 0) also leaves the schedule alone', () => {
    expect(list(16, 6, 3, 0)).toBe('1111111' + '0001' + '0001' + '0');
  });

  it('lastStep ≥ 1 protects that many steps whatever the trigger step', () => {
    expect(protectedTail(6, 2)).toBe(2);
    expect(list(16, 2, 3, 2)).toBe('1110001000100011');
  });

  it('another interval: R = 1 alternates', () => {
    expect(list(12, 3, 1)).toBe('111101010101');
  });

  it('a trigger that never comes: every step computes', () => {
    expect(list(32, null)).toBe('1'.repeat(32));
  });
});

describe('bwcache policy', () => {
  const settings = { policy: 'bwcache', threshold: 0.15, interval: 3, lastStep: 0.5 } as const;

  it('computes until the indicator falls below δ, then follows the fixed list; the cache step always computes', () => {
    const steps = 30;
    const policy = createFeatureCachePolicy(settings, steps);
    const uses: string[] = [];
    for (let s = 0; s < steps; s++) {
      const use = policy.use(7, s);
      uses.push(use === 'compute' ? '1' : '0');
      // First step: no indicator; then 0.5 … falling to 0.1 at step 6; later values are ignored.
      if (use === 'compute') policy.observe([{ block: 7, stage: s, indicator: s === 0 ? null : s < 6 ? 0.5 : s === 6 ? 0.1 : 0.9 }]);
    }
    expect(uses.join('')).toBe('111111100010001000100010001111');
    expect(policy.triggerStep(7)).toBe(6);
    expect(policy.use(7, steps)).toBe('compute');
    // Blocks are independent.
    expect(policy.use(8, 8)).toBe('compute');
    policy.forget(7);
    expect(policy.use(7, 8)).toBe('compute');
  });

  it('fires once: a later low indicator does not move the schedule', () => {
    const policy = createFeatureCachePolicy(settings, 16);
    policy.observe([{ block: 0, stage: 2, indicator: 0.05 }]);
    policy.observe([{ block: 0, stage: 6, indicator: 0.01 }]);
    expect(policy.triggerStep(0)).toBe(2);
  });

  it('an indicator equal to δ does not trigger (strictly below)', () => {
    const policy = createFeatureCachePolicy(settings, 16);
    policy.observe([{ block: 0, stage: 3, indicator: 0.15 }]);
    expect(policy.triggerStep(0)).toBeNull();
  });

  it('policy none always computes', () => {
    const policy = createFeatureCachePolicy({ policy: 'none' }, 16);
    policy.observe([{ block: 0, stage: 3, indicator: 0 }]);
    expect(policy.use(0, 5)).toBe('compute');
  });

  it('the indicator is the mean over layers of the per-layer relative L1 change', () => {
    expect(indicatorOf([1, 3], [10, 10])).toBeCloseTo(0.2, 12);
    expect(indicatorOf([], [])).toBeNull();
    expect(indicatorOf([1], [0])).toBeNull();
  });
});
