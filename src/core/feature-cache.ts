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
export const FEATURE_CACHE_POLICIES = ['none', 'bwcache', 'teacache', 'fbcache'] as const;
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
  /**
   * teacache: the rescaling polynomial's coefficients, highest degree first (default: the
   * model's calibration, `calibrations/<model name>.json`).
   */
  readonly coefficients?: readonly number[];
}

/** Resolved feature-cache settings. */
export type FeatureCacheSettings =
  | { readonly policy: 'none' }
  | { readonly policy: 'bwcache'; readonly threshold: number; readonly interval: number; readonly lastStep: number }
  | { readonly policy: 'teacache'; readonly threshold: number; readonly coefficients?: readonly number[]; readonly inputRange?: readonly [number, number] }
  | { readonly policy: 'fbcache'; readonly threshold: number };

export const FEATURE_CACHE_DEFAULTS = { threshold: 0.15, interval: 3, lastStep: 0.5 } as const;
/** Default thresholds per policy (docs/caching.md says why). */
export const FEATURE_CACHE_THRESHOLDS = { bwcache: 0.15, teacache: 0.1, fbcache: 0.1 } as const;

/**
 * What the lane workers measure beyond the bwcache sums: `first-input` also compares layer 0's
 * input of reusing members with the previous step's (and keeps it), for teacache;
 * `first-residual` also measures layer 0's output residual change, for fbcache. Both also
 * measure the whole stack's residual change at computed steps (calibration).
 */
export type FeatureTracking = 'first-input' | 'first-residual';

/** The tracking a policy needs from the workers (none for bwcache). */
export function featureTrackingOf(settings: FeatureCacheSettings): FeatureTracking | undefined {
  return settings.policy === 'teacache' ? 'first-input' : settings.policy === 'fbcache' ? 'first-residual' : undefined;
}

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
  /** Layer 0's input, relative L1 change against the block's previous step (teacache). */
  readonly firstInput?: number | null;
  /** Layer 0's output residual, relative L1 change against the last computed step (fbcache). */
  readonly firstResidual?: number | null;
  /** The whole stack's residual, relative L1 change against the last computed step (calibration). */
  readonly residual?: number | null;
  /** The member reused this step (teacache reports layer 0's input change of reusing members too). */
  readonly reused?: boolean;
  /** Layer 0's input of the block's next step, relative L1 change against this step's (teacache decides the next step on it). */
  readonly nextInput?: number | null;
}

/**
 * A generation's feature-cache policy: asked for each member's feature use when a tick starts,
 * told each computed member's indicator when the tick ends.
 */
export interface FeatureCachePolicy {
  readonly settings: FeatureCacheSettings;
  /** Whether block `block` computes or reuses at stage `stage` (the cache stage always computes). */
  use(block: number, stage: number): FeatureUse;
  /**
   * Whether block `block`'s computed steps must measure (store their layer inputs and report the
   * indicator's sums). bwcache stops once the block's schedule is fixed: it needs no more sums,
   * and nothing reads those inputs again. teacache and fbcache always measure.
   */
  measures(block: number): boolean;
  /** A tick ended: the indicators of its computed members. */
  observe(indicators: readonly MemberIndicator[]): void;
  /** A block left the pipeline (after its cache step): forget its state. */
  forget(block: number): void;
  /** The step at which block `block`'s schedule was fixed, or null. */
  triggerStep(block: number): number | null;
  /** Snapshots: what the policy keeps of each of `blocks` (blocks it keeps nothing of are left out). */
  saveBlocks(blocks: readonly number[]): FeatureBlockState[];
  /** Resume: takes back what {@link saveBlocks} gave, for a policy of the same settings. */
  restoreBlocks(states: readonly FeatureBlockState[]): void;
}

/**
 * A policy's state of one block, as numbers (the snapshot's `policy` entries): bwcache
 * `[triggerStep]`; teacache `[acc, nextChange]` (null where nothing was measured yet); fbcache
 * nothing (its reference is the store's last computed step).
 */
export interface FeatureBlockState {
  readonly block: number;
  readonly values: readonly (number | null)[];
}

/** The value at `i` as a number, or null; `values` came from a snapshot's checked bytes. */
const numberAt = (values: readonly (number | null)[], i: number): number | null => values[i] ?? null;

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
    return { settings, use: () => 'compute', measures: () => true, observe: () => {}, forget: () => {}, triggerStep: () => null, saveBlocks: () => [], restoreBlocks: () => {} };
  }
  if (settings.policy === 'teacache') return createTeaCachePolicy(settings, steps);
  if (settings.policy === 'fbcache') return createFirstBlockPolicy(settings, steps);
  const { threshold, interval, lastStep } = settings;
  const lists = new Map<number, { trigger: number; list: boolean[] }>();
  return {
    settings,
    use(block, stage) {
      if (stage >= steps) return 'compute';
      const fixed = lists.get(block);
      return fixed === undefined || (fixed.list[stage] as boolean) ? 'compute' : 'reuse';
    },
    measures(block) {
      // Fixed once: later indicators would change nothing (observe skips them).
      return !lists.has(block);
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
    saveBlocks(blocks) {
      return blocks.flatMap((block) => {
        const fixed = lists.get(block);
        return fixed === undefined ? [] : [{ block, values: [fixed.trigger] }];
      });
    },
    restoreBlocks(states) {
      for (const { block, values } of states) {
        const trigger = numberAt(values, 0);
        if (trigger !== null) lists.set(block, { trigger, list: bwcacheComputeList(steps, trigger, interval, lastStep) });
      }
    },
  };
}

/**
 * A polynomial's value, coefficients highest degree first (Horner).
 *
 * @example
 * ```ts
 * polynomial([2, 0, 1], 3); // 19
 * ```
 */
export function polynomial(coefficients: readonly number[], x: number): number {
  let y = 0;
  for (const c of coefficients) y = y * x + c;
  return y;
}

/**
 * Least-squares fit of a polynomial of `degree` to points (x, y); coefficients highest degree
 * first. Normal equations in float64 on x centred and scaled to [−1, 1] (a calibration's x
 * values may span a narrow range far from 0), solved by Gauss–Jordan elimination with partial
 * pivoting, then expanded back to powers of x.
 *
 * @example
 * ```ts
 * fitPolynomial([0, 1, 2, 3], [1, 2, 5, 10], 2); // ≈ [1, 0, 1]
 * ```
 */
export function fitPolynomial(xs: readonly number[], ys: readonly number[], degree: number): number[] {
  if (xs.length !== ys.length) throw new Error(`fitPolynomial: ${xs.length} x values but ${ys.length} y values`);
  if (xs.length < degree + 1) throw new Error(`fitPolynomial: a degree-${degree} fit needs at least ${degree + 1} points, got ${xs.length}`);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const centre = (lo + hi) / 2;
  const scale = (hi - lo) / 2 || 1;
  const n = degree + 1;
  // a[i][j] = Σ u^(i+j), a[i][n] = Σ y·u^i with u = (x − centre) / scale (ascending powers).
  const a = Array.from({ length: n }, () => new Array<number>(n + 1).fill(0));
  xs.forEach((x, k) => {
    const u = (x - centre) / scale;
    const powers = [1];
    for (let p = 1; p < 2 * n; p++) powers.push((powers[p - 1] as number) * u);
    for (let i = 0; i < n; i++) {
      const row = a[i] as number[];
      for (let j = 0; j < n; j++) row[j] = (row[j] as number) + (powers[i + j] as number);
      row[n] = (row[n] as number) + (ys[k] as number) * (powers[i] as number);
    }
  });
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs((a[r] as number[])[c] as number) > Math.abs((a[pivot] as number[])[c] as number)) pivot = r;
    [a[c], a[pivot]] = [a[pivot] as number[], a[c] as number[]];
    const row = a[c] as number[];
    const d = row[c] as number;
    if (Math.abs(d) < 1e-300) throw new Error('fitPolynomial: the points do not determine the polynomial (too few distinct x values)');
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const other = a[r] as number[];
      const f = (other[c] as number) / d;
      for (let j = c; j <= n; j++) other[j] = (other[j] as number) - f * (row[j] as number);
    }
  }
  const inU = a.map((row, i) => (row[n] as number) / (row[i] as number));
  // Σ a_i ((x − c)/s)^i = Σ_k x^k Σ_{i ≥ k} a_i s^−i C(i, k) (−c)^(i−k).
  const binomial = (i: number, k: number) => {
    let b = 1;
    for (let j = 1; j <= k; j++) b = (b * (i - k + j)) / j;
    return b;
  };
  const inX = Array.from({ length: n }, (_, k) => {
    let sum = 0;
    for (let i = k; i < n; i++) sum += ((inU[i] as number) / scale ** i) * binomial(i, k) * (-centre) ** (i - k);
    return sum;
  });
  return inX.reverse();
}

/**
 * TeaCache's decisions for one block, as a pure function of the layer-0 input changes it saw:
 * `changes[t]` is the relative L1 change of layer 0's input from step t − 1 to step t (null at
 * step 0). Each step is decided on its own change, measured by the step before it right after
 * its sampler update (the look-ahead, `engine/lanes/next-inputs.ts`): step t computes when
 * `acc + |p(changes[t])| ≥ threshold`, and acc restarts at 0; otherwise it reuses and acc takes
 * that sum. The first and last steps, and a step without a measured change, compute.
 *
 * @example
 * ```ts
 * // p(x) = x, threshold 0.25, changes 0.1 a step: two reuses between computed steps.
 * formatComputeList(teacacheComputeList([null, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1, 0], 0.25)); // '10010011'
 * ```
 */
export function teacacheComputeList(changes: readonly (number | null)[], coefficients: readonly number[], threshold: number): boolean[] {
  const steps = changes.length;
  const list: boolean[] = [];
  let acc = 0;
  for (let t = 0; t < steps; t++) {
    const step = teacacheStep(t, steps, acc, changes[t] ?? null, coefficients, threshold);
    list.push(step.compute);
    acc = step.acc;
  }
  return list;
}

/** |p(x)|, x clamped to the calibration's input range when there is one (a degree-4 fit extrapolates wildly). */
function rescaled(coefficients: readonly number[], x: number, range?: readonly [number, number]): number {
  const clamped = range ? Math.min(range[1], Math.max(range[0], x)) : x;
  return Math.abs(polynomial(coefficients, clamped));
}

/** One step's decision from its own input change, and the accumulator after it. */
function teacacheStep(stage: number, steps: number, acc: number, change: number | null, coefficients: readonly number[], threshold: number, range?: readonly [number, number]): { compute: boolean; acc: number } {
  if (stage === 0 || stage >= steps - 1 || change === null) return { compute: true, acc: 0 };
  const sum = acc + rescaled(coefficients, change, range);
  return sum >= threshold ? { compute: true, acc: 0 } : { compute: false, acc: sum };
}

function createTeaCachePolicy(settings: Extract<FeatureCacheSettings, { policy: 'teacache' }>, steps: number): FeatureCachePolicy {
  const coefficients = settings.coefficients;
  if (!coefficients || coefficients.length === 0) throw new Error("teacache needs the rescaling polynomial (featureCache.coefficients or the model's calibration file)");
  // `next`: the next step's input change, measured by the last step observed.
  const blocks = new Map<number, { acc: number; next: number | null; decided: Map<number, { compute: boolean; acc: number }> }>();
  const state = (block: number) => {
    let s = blocks.get(block);
    if (!s) blocks.set(block, (s = { acc: 0, next: null, decided: new Map() }));
    return s;
  };
  return {
    settings,
    use(block, stage) {
      if (stage >= steps) return 'compute';
      const s = state(block);
      let step = s.decided.get(stage);
      if (step === undefined) {
        step = teacacheStep(stage, steps, s.acc, stage === 0 ? null : s.next, coefficients, settings.threshold, settings.inputRange);
        s.decided.set(stage, step);
      }
      return step.compute ? 'compute' : 'reuse';
    },
    measures() {
      return true;
    },
    observe(indicators) {
      for (const { block, stage, nextInput = null } of indicators) {
        if (stage >= steps) continue;
        const s = state(block);
        s.acc = s.decided.get(stage)?.acc ?? 0;
        s.decided.delete(stage);
        s.next = nextInput;
      }
    },
    forget(block) {
      blocks.delete(block);
    },
    triggerStep: () => null,
    // A step's decision lives only between its tick's start and end: between ticks, acc and next are all.
    saveBlocks: (wanted) => wanted.flatMap((block) => {
      const s = blocks.get(block);
      return s === undefined ? [] : [{ block, values: [s.acc, s.next] }];
    }),
    restoreBlocks(states) {
      for (const { block, values } of states) blocks.set(block, { acc: numberAt(values, 0) ?? 0, next: numberAt(values, 1), decided: new Map() });
    },
  };
}

/**
 * First-block caching's decisions for one block, as a pure function of what its first layer
 * measured: `residualChanges[t]` is the relative L1 change of layer 0's output residual at step
 * t against the block's last computed step (null at step 0). Every step runs layer 0; step t
 * then reuses the other layers' residual when that change is below the threshold, else computes
 * them and becomes the new reference. The first and last steps, and a step without a
 * measurement, compute. (The lanes take this decision themselves, after layer 0, with the
 * change they measured: `FeatureUse` `decide`.)
 *
 * @example
 * ```ts
 * formatComputeList(fbcacheComputeList([null, 0.04, 0.08, 0.12, 0.03, 0.05, 0.2, 0.01], 0.1)); // '10010011'
 * ```
 */
export function fbcacheComputeList(residualChanges: readonly (number | null)[], threshold: number): boolean[] {
  const steps = residualChanges.length;
  return residualChanges.map((change, t) => t === 0 || t >= steps - 1 || change === null || change === undefined || !(change < threshold));
}

function createFirstBlockPolicy(settings: Extract<FeatureCacheSettings, { policy: 'fbcache' }>, steps: number): FeatureCachePolicy {
  return {
    settings,
    // The lane decides after the first layer (it compares with the store's last computed step):
    // no state here, so nothing for a snapshot to keep.
    use: (_block, stage) => (stage === 0 || stage >= steps - 1 ? 'compute' : 'decide'),
    measures: () => true,
    observe: () => {},
    forget: () => {},
    triggerStep: () => null,
    saveBlocks: () => [],
    restoreBlocks: () => {},
  };
}
