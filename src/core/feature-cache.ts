/**
 * Block-wise feature caching (BWCache): which denoising steps of a block run the transformer's
 * layer stack and which reuse the stack's residual from the last computed step.
 *
 * Pure arithmetic and a small per-generation policy object; the tensors (layer inputs,
 * residuals, K/V of the last computed step) live in the lane workers' shared memory
 * (`engine/lanes/feature-store.ts`), and the workers report one number per computed member:
 * the indicator.
 *
 * Semantics, as BWCache's released code behaves:
 * - Per block, a compute list over its N steps (`true` = compute), all `true` at first.
 * - At a computed step every layer runs; the indicator is the mean over layers of
 *   `mean|x_i − last_i| / mean|last_i|`, each layer's input against its input at the previous
 *   computed step (no indicator at the first step).
 * - The first time the indicator falls below δ at step s, the list is fixed once: for j > s, R
 *   reuses then one compute, repeating; then the last `⌊s · lastStep⌋` steps (`lastStep` itself
 *   when it is ≥ 1) are forced back to compute. The tail's start index is computed explicitly,
 *   so a tail of zero steps leaves the schedule alone. The trigger fires once.
 * - The cache step (the K/V write at t = 0, stage N) is not in the list: it always computes.
 */
import type { FeatureUse } from './tick.js';

/** The feature-cache policies. */
export const FEATURE_CACHE_POLICIES = ['none', 'bwcache'] as const;
export type FeatureCachePolicyName = (typeof FEATURE_CACHE_POLICIES)[number];

/** Feature-cache settings as given (API, session file, CLI); the resolver fills the rest. */
export interface FeatureCacheOptions {
  readonly policy?: FeatureCachePolicyName;
  /** δ: the indicator below which the schedule is fixed (default 0.15). */
  readonly threshold?: number;
  /** R: steps reused between two computed ones after the trigger (default 3). */
  readonly interval?: number;
  /** The protected tail: `⌊s · lastStep⌋` steps when below 1, else `lastStep` steps (default 0.5). */
  readonly lastStep?: number;
}

/** Resolved feature-cache settings. */
export type FeatureCacheSettings =
  | { readonly policy: 'none' }
  | { readonly policy: 'bwcache'; readonly threshold: number; readonly interval: number; readonly lastStep: number };

export const FEATURE_CACHE_DEFAULTS = { threshold: 0.15, interval: 3, lastStep: 0.5 } as const;

/** No feature caching: every step computes. */
export const NO_FEATURE_CACHE: FeatureCacheSettings = { policy: 'none' };

/**
 * Steps forced back to compute at the end of a block's schedule after a trigger at step `s`.
 *
 * @example
 * ```ts
 * protectedTail(6, 0.5); // 3
 * protectedTail(1, 0.5); // 0: no tail (not "the whole list")
 * protectedTail(6, 4);   // 4
 * ```
 */
export function protectedTail(triggerStep: number, lastStep: number): number {
  return lastStep >= 1 ? Math.floor(lastStep) : Math.floor(triggerStep * lastStep);
}

/**
 * The compute list of a block of `steps` steps whose indicator first fell below δ at
 * `triggerStep` (null: never, so every step computes).
 *
 * @example
 * ```ts
 * formatComputeList(bwcacheComputeList(30, 6, 3, 0.5)); // '111111100010001000100010001111'
 * ```
 */
export function bwcacheComputeList(steps: number, triggerStep: number | null, interval: number, lastStep: number): boolean[] {
  const list = Array.from({ length: steps }, () => true);
  if (triggerStep === null) return list;
  for (let j = triggerStep + 1; j < steps; j++) list[j] = (j - triggerStep) % (interval + 1) === 0;
  const tail = protectedTail(triggerStep, lastStep);
  // Explicit start index: a zero-step tail must change nothing (the `[-0:]` pitfall).
  const tailStart = Math.max(0, steps - tail);
  for (let j = tailStart; j < steps; j++) list[j] = true;
  return list;
}

/** `111000…` for a compute list (1 = compute, 0 = reuse). */
export function formatComputeList(list: readonly boolean[]): string {
  return list.map((c) => (c ? '1' : '0')).join('');
}

/**
 * The indicator from per-layer sums: the mean over layers of Σ|x − last| / Σ|last| (a ratio of
 * sums equals the ratio of means over the same tokens). Null when there is nothing to compare.
 *
 * @example
 * ```ts
 * indicatorOf([1, 3], [10, 10]); // 0.2
 * ```
 */
export function indicatorOf(change: readonly number[], base: readonly number[]): number | null {
  if (change.length === 0) return null;
  let sum = 0;
  for (let l = 0; l < change.length; l++) {
    const b = base[l] as number;
    if (!(b > 0)) return null;
    sum += (change[l] as number) / b;
  }
  return sum / change.length;
}

/** One computed member's indicator, as a tick reports it (null at a block's first step). */
export interface MemberIndicator {
  readonly block: number;
  readonly stage: number;
  readonly indicator: number | null;
}

/**
 * A generation's feature-cache policy: asked for each member's feature use when a tick starts,
 * told each computed member's indicator when the tick ends.
 */
export interface FeatureCachePolicy {
  readonly settings: FeatureCacheSettings;
  /** Whether block `block` computes or reuses at stage `stage` (the cache stage always computes). */
  use(block: number, stage: number): FeatureUse;
  /** A tick ended: the indicators of its computed members. */
  observe(indicators: readonly MemberIndicator[]): void;
  /** A block left the pipeline (after its cache step): forget its state. */
  forget(block: number): void;
  /** The step at which block `block`'s schedule was fixed, or null. */
  triggerStep(block: number): number | null;
}

/**
 * The policy for `settings` over blocks of `steps` denoising steps.
 *
 * @example
 * ```ts
 * const policy = createFeatureCachePolicy({ policy: 'bwcache', threshold: 0.15, interval: 3, lastStep: 0.5 }, 30);
 * policy.observe([{ block: 0, stage: 6, indicator: 0.1 }]);
 * policy.use(0, 7); // 'reuse'
 * ```
 */
export function createFeatureCachePolicy(settings: FeatureCacheSettings, steps: number): FeatureCachePolicy {
  if (settings.policy === 'none') {
    return { settings, use: () => 'compute', observe: () => {}, forget: () => {}, triggerStep: () => null };
  }
  const { threshold, interval, lastStep } = settings;
  const lists = new Map<number, { trigger: number; list: boolean[] }>();
  return {
    settings,
    use(block, stage) {
      if (stage >= steps) return 'compute';
      const fixed = lists.get(block);
      return fixed === undefined || (fixed.list[stage] as boolean) ? 'compute' : 'reuse';
    },
    observe(indicators) {
      for (const { block, stage, indicator } of indicators) {
        if (stage >= steps || lists.has(block) || indicator === null || !(indicator < threshold)) continue;
        lists.set(block, { trigger: stage, list: bwcacheComputeList(steps, stage, interval, lastStep) });
      }
    },
    forget(block) {
      lists.delete(block);
    },
    triggerStep(block) {
      return lists.get(block)?.trigger ?? null;
    },
  };
}
