/**
 * The feature cache's indicators of a tick from its lanes' results: each computed member's
 * per-layer sums added over the lanes in lane order, then `indicatorOf` (`core/feature-cache.ts`).
 * One function for the executors and for a lane running a block's steps ahead, so that both
 * reach the same floats and the same decisions.
 */
import { indicatorOf, type MemberIndicator } from '../../core/feature-cache.js';
import type { ShareResult } from '../../protocol/lane-messages.js';

/**
 * Each computed member's indicator from the lanes' sums (lanes' parts added in lane order).
 *
 * @example
 * ```ts
 * policy.observe(indicatorsOf(await Promise.all(shares)));
 * ```
 */
export function indicatorsOf(results: readonly Pick<ShareResult, 'featureSums'>[]): MemberIndicator[] {
  type Pair = [number, number];
  const byBlock = new Map<number, { stage: number; change: number[]; base: number[]; firstResidual?: Pair; residual?: Pair; nextInput?: Pair; reused?: boolean }>();
  const add = (into: Pair | undefined, pair: readonly [number, number] | undefined): Pair | undefined => (pair === undefined ? into : into === undefined ? [pair[0], pair[1]] : [into[0] + pair[0], into[1] + pair[1]]);
  for (const result of results) {
    for (const s of result.featureSums ?? []) {
      const into = byBlock.get(s.block);
      if (!into) {
        byBlock.set(s.block, { stage: s.stage, change: [...s.change], base: [...s.base], ...(s.firstResidual ? { firstResidual: [...s.firstResidual] as Pair } : {}), ...(s.residual ? { residual: [...s.residual] as Pair } : {}), ...(s.nextInput ? { nextInput: [...s.nextInput] as Pair } : {}), ...(s.reused ? { reused: true } : {}) });
      } else {
        s.change.forEach((c, l) => {
          into.change[l] = (into.change[l] as number) + c;
          into.base[l] = (into.base[l] as number) + (s.base[l] as number);
        });
        const firstResidual = add(into.firstResidual, s.firstResidual);
        const residual = add(into.residual, s.residual);
        const nextInput = add(into.nextInput, s.nextInput);
        if (firstResidual) into.firstResidual = firstResidual;
        if (residual) into.residual = residual;
        if (nextInput) into.nextInput = nextInput;
      }
    }
  }
  const ratio = (pair: Pair | undefined) => (pair === undefined ? undefined : pair[1] > 0 ? pair[0] / pair[1] : null);
  return [...byBlock]
    .sort(([a], [b]) => a - b)
    .map(([block, s]) => {
      const firstInput = s.change.length > 0 && (s.base[0] as number) > 0 ? (s.change[0] as number) / (s.base[0] as number) : null;
      const firstResidual = ratio(s.firstResidual);
      const residual = ratio(s.residual);
      const nextInput = ratio(s.nextInput);
      return {
        block,
        stage: s.stage,
        indicator: s.reused ? null : indicatorOf(s.change, s.base),
        firstInput,
        ...(firstResidual !== undefined ? { firstResidual } : {}),
        ...(residual !== undefined ? { residual } : {}),
        ...(nextInput !== undefined ? { nextInput } : {}),
        ...(s.reused ? { reused: true } : {}),
      };
    });
}
